"""Kernels compiled serial for ordinary populations and parallel only for large ones.

A `parallel=True` kernel costs Numba several times the compile time of the same loop run
serially (the first run after installing pays for it), and on small inputs, or on a busy
machine, its thread launches can cost more than the work. A kernel whose parallel loop
is a real win at 10^7 citizens is therefore compiled twice, lazily: the serial version
for inputs under `PARALLEL_FROM` elements (the default scenario's 10^6 citizens), the
parallel one only the first time a large input comes (each is cached separately). Both
give the same bytes: every parallel loop in Panopticon is over fixed blocks, never over
the thread count.

`PANOPTICON_PARALLEL_FROM` (elements) moves the threshold: 0 makes every such call
parallel (the tests compare the two), a very large value makes every call serial.

`uniform` is `streams.uniform` (kept under this name for the kernels that import it from
here): a called kernel, compiled once and linked into each caller, where LLVM inlines it.
Numba's `inline="always"` would copy and type its IR again at every call site (about
0.1 s of compile time each). Helpers called only from other kernels are compiled with
`HELPER` options: no Python wrapper.
"""

from __future__ import annotations

import os
import types
from collections.abc import Callable
from typing import Any

import numba
import numpy as np

from panopticon.core import streams

PARALLEL_FROM = int(os.environ.get("PANOPTICON_PARALLEL_FROM", 2_000_000))

# Numba's OpenMP threads wait for the next parallel region by spinning (GNU OpenMP's
# default): on a machine busy with other work the spinning threads take the cores the
# work needs. The minimal model, 3 x 10^6 x 200 days, beside two busy processes on 2
# cores: day loop 9.5-14.7 s spinning, 2.0-2.2 s with passive waits; quiet, 0.97-1.29 s
# either way. Set before the threading layer starts (the first parallel kernel call);
# a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# Options of every kernel (with `cache=True`): no C callback wrapper (Panopticon never
# takes a kernel's address; building it cost about 10% of the first run's compiling),
# and NumPy's error model, which leaves out the checks that raise on a division by zero
# (the same results wherever nothing is divided by zero; less code to compile).
KERNEL: dict[str, Any] = {"no_cfunc_wrapper": True, "error_model": "numpy"}

# Options of a kernel called only from other kernels: no CPython wrapper either (it costs
# compile time; such a kernel cannot be called from Python).
HELPER: dict[str, Any] = {**KERNEL, "no_cpython_wrapper": True}


uniform = streams.uniform


class SizedKernel:
    """A serial and a parallel Numba dispatcher of one function, chosen per call by size.

    `size_arg` is the position of the array argument whose length measures the work
    (citizens, usually); the parallel version runs from `scale * PARALLEL_FROM` elements
    (`scale` 10 for an array of friendship stubs, about ten per citizen). Call it like the
    function it wraps; `serial` and `parallel` are the two dispatchers (Python callers
    only: other kernels call `serial`).
    """

    def __init__(
        self, fn: Callable[..., Any], size_arg: int, scale: int, options: dict[str, Any]
    ) -> None:
        self.serial = numba.njit(cache=True, **KERNEL, **options)(fn)
        # A distinct qualified name gives the parallel version its own cache files (Numba's
        # cache index does not tell parallel from serial builds of one function).
        twin = types.FunctionType(
            fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__
        )
        twin.__qualname__ = f"{fn.__qualname__}_parallel"
        twin.__module__ = fn.__module__
        twin.__doc__ = fn.__doc__
        self.parallel = numba.njit(cache=True, parallel=True, **KERNEL, **options)(twin)
        self.size_arg = size_arg
        self.size_name = fn.__code__.co_varnames[size_arg]
        self.scale = scale
        self.__doc__ = fn.__doc__
        self.__name__ = fn.__name__
        self.__qualname__ = fn.__qualname__
        self.__module__ = fn.__module__
        self.__wrapped__ = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the serial version, or the parallel one on a large input with threads."""
        arr = args[self.size_arg] if len(args) > self.size_arg else kwargs[self.size_name]
        big = np.size(arr) >= self.scale * PARALLEL_FROM and numba.get_num_threads() > 1
        return (self.parallel if big else self.serial)(*args, **kwargs)


def sized_kernel(
    size_arg: int = 0, scale: int = 1, **options: Any
) -> Callable[[Callable[..., Any]], SizedKernel]:
    """Decorator: `SizedKernel` of the function (Numba options besides cache and parallel)."""

    def wrap(fn: Callable[..., Any]) -> SizedKernel:
        return SizedKernel(fn, size_arg, scale, options)

    return wrap
