"""The work a run will do, estimated before it starts, and the guard that refuses too much.

Behave draws each day's candidate acts from two Poisson sources, at rate
``rate_a x block weight`` (block weight: the sum of the block's propensities) and
``rate_b x block size``, where rate_a + rate_b is the sum of the behaviour rates.
Propensities have mean 1, so the expected candidate acts of a run are
population x days x sum of rates; deterrence and rate multipliers only thin them. The
measures' attempt counts (travel, rental, reward, consumption) are drawn the same way
(cost grows with the count); at most everyone is triggered, which bounds them by
population x days x attempts per person-day. A run whose expected draws exceed
`MAX_DRAWS` would take hours to days, so it is refused with the estimate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from panopticon.core.params import Daily
from panopticon.io.runs import RunError

if TYPE_CHECKING:
    from panopticon.scenario.schema import Scenario

MAX_DRAWS = 1e11
"""Largest number of expected candidate acts plus measure attempts a run may draw."""


def mean_rate(value: Any, scenario: Scenario) -> float:
    """A rate's mean over the run: itself, or a schedule's mean over the run's days."""
    return Daily(value, scenario.run.start, scenario.run.days).mean


def act_rate(scenario: Scenario) -> float:
    """Expected candidate acts per citizen-day: the sum of the behaviour rates (run means)."""
    return float(sum(mean_rate(b.rate, scenario) for b in scenario.behaviors.values()))


def attempt_rate(scenario: Scenario) -> float:
    """Upper bound of measure attempts per citizen-day (everyone triggered)."""
    per_year = 0.0
    for m in scenario.sanctions.measures.values():
        if m.kind in ("travel", "rental", "reward"):
            per_year += mean_rate(m.attempts_per_year, scenario)
        elif m.kind == "consumption":
            items = m.options.get("items", {})
            leak = float(m.options.get("leak_share", 0.0))
            per_year += float(sum(items.values())) * (1.0 + leak)
    return per_year / 365.0


def expected_draws(scenario: Scenario) -> float:
    """Expected candidate acts plus the bound on measure attempts over the whole run."""
    person_days = float(scenario.population.size) * scenario.run.days
    return person_days * (act_rate(scenario) + attempt_rate(scenario))


def work_problem(scenario: Scenario) -> str | None:
    """A one-line refusal when the run would draw more than `MAX_DRAWS`, else None."""
    draws = expected_draws(scenario)
    if draws <= MAX_DRAWS:
        return None
    n, days = scenario.population.size, scenario.run.days
    acts, attempts = act_rate(scenario), attempt_rate(scenario)
    mean = {k: mean_rate(b.rate, scenario) for k, b in scenario.behaviors.items()}
    top = sorted(mean.items(), key=lambda kv: -kv[1])
    rates = ", ".join(f"behaviors.{k}.rate = {r:g}" for k, r in top[:3])
    rates += ", ..." if len(top) > 3 else ""
    extra = f" + {attempts:g} measure attempts" if attempts > 0 else ""
    return (
        f"error: run too large: population.size = {n:,} x run.days = {days:,} x "
        f"({acts:g} acts{extra} per person-day; {rates}) is about {draws:.3g} draws, "
        f"which is not allowed; at most {MAX_DRAWS:,.0f}; lower population.size, run.days "
        "or the rates"
    )


def check_work(scenario: Scenario) -> None:
    """Refuse (RunError) a run that would draw more than `MAX_DRAWS` candidate acts."""
    problem = work_problem(scenario)
    if problem is not None:
        raise RunError(problem)
