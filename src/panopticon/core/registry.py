"""The registry of modules: which classes exist, and the build order for a scenario.

A module class registers itself with `@register`; `stages/__init__.py` imports every
built-in stage so that importing the package fills the registry. For a scenario, each
class says how many instances it needs (`Module.instances`); the registry orders them so
that every module is built after the modules providing what it needs (ties: by phase,
then the fixed order of `stages.builtin.ORDER`, then registration order) and reports a
missing or circular capability clearly.
"""

from __future__ import annotations

from typing import Any

from panopticon.core.module import Module

REGISTRY: list[type[Module]] = []


def register(cls: type[Module]) -> type[Module]:
    """Class decorator: add a module class to the registry (once)."""
    if cls not in REGISTRY:
        REGISTRY.append(cls)
    return cls


def plan_build(scenario: Any) -> list[tuple[type[Module], dict[str, Any], set[str]]]:
    """(class, kwargs, needs) of every module instance, in an order that satisfies needs."""
    from panopticon.stages.builtin import ORDER  # importing registers the built-in modules

    fixed = {cls: i for i, cls in enumerate(ORDER)}
    ranked = sorted(REGISTRY, key=lambda c: fixed.get(c, len(ORDER) + REGISTRY.index(c)))
    specs = []
    for rank, cls in enumerate(ranked):
        for kwargs in cls.instances(scenario):
            specs.append(
                (
                    cls.phase,
                    rank,
                    cls,
                    kwargs,
                    cls.needs(scenario, **kwargs),
                    set(cls.provided(scenario, **kwargs)),
                )
            )
    specs.sort(key=lambda s: (s[0], s[1]))
    provider = {cap: i for i, s in enumerate(specs) for cap in s[5]}
    for s in specs:
        for cap in s[4]:
            if cap not in provider:
                raise ValueError(f"module {s[2].__name__} needs {cap!r}, which no module provides")
    order: list[int] = []
    state: dict[int, int] = {}  # 1 visiting, 2 done

    def visit(i: int, path: tuple[str, ...]) -> None:
        if state.get(i) == 2:
            return
        if state.get(i) == 1:
            raise ValueError(f"modules need each other in a circle: {' -> '.join(path)}")
        state[i] = 1
        for cap in sorted(specs[i][4]):
            visit(provider[cap], (*path, cap))
        state[i] = 2
        order.append(i)

    for i in range(len(specs)):
        visit(i, (specs[i][2].__name__,))
    return [(specs[i][2], specs[i][3], specs[i][4]) for i in order]
