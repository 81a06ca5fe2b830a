"""Behave: the day's acts, drawn by thinning against each block's propensity envelope.

Citizen i commits Poisson(g_i * R * d_i) acts a day, where g_i is the propensity, R the
sum of the behaviour rates (today's, where a rate is a dated schedule) and d_i the
deterrence multiplier (1 = undeterred). Candidate acts are drawn at rate e * R from an
envelope e >= g that is the same for every block of 4,096 (the strata of
`core.population`) and each is kept with probability d_i x g_i / e, which is exactly
Poisson(g_i * R * d_i); no per-citizen table is read, the propensity is derived from the
citizen's id only when the squeeze cannot decide. The behaviour of a kept act is drawn by
rate share. Cost grows with acts, not with population x days.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from panopticon.core import streams
from panopticon.core.jit import HELPER, KERNEL, PARALLEL_FROM, sized_kernel
from panopticon.core.module import Column, DayContext, Export, Module, Phase, StateSpec
from panopticon.core.params import Daily
from panopticon.core.population import BLOCK, MARGIN, body_quantile, local_id
from panopticon.core.records import KIND_NOUNS, KINDS, act_kinds
from panopticon.core.registry import register
from panopticon.scenario.schema import Scenario
from panopticon.stages.society.circle import scale_circle_range


@intrinsic
def prefetch(typingctx: Any, arr: Any, index: Any) -> Any:
    """Ask the CPU to bring arr[index]'s cache line in (LLVM's prefetch; never faults).

    Unlike a load it does not hold up the instructions after it while the line comes.
    """
    sig = types.void(arr, index)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]], wraparound=False)
        vp, i32 = cgutils.voidptr_t, ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [vp, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        builder.call(fn, [builder.bitcast(ptr, vp), i32(0), i32(3), i32(1)])  # read, keep, data
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True, **HELPER)
def _candidates(
    key: np.uint64,
    c: np.uint64,
    k_count: int,
    weight: float,
    s_total: float,
    top: int,
    s_prob: np.ndarray,
    pairs: np.ndarray,
    pk: np.uint64,
    lo: int,
    actor: np.ndarray,
    w_buf: np.ndarray,
    r_buf: np.ndarray,
    out: int,
) -> None:
    """Pass 1 of the simple path: a block's `k_count` candidates into slots `out` on.

    Two draws per candidate (x: who, w: kept); no state is read, so that pass 2 reads
    every candidate's state with the reads independent of one another. Each row holds
    the block-local id plus `lo` (an empty slot of a partial block included: pass 2
    drops it), w and the body stratum r (-1: the top citizen). `pairs` (`_alias_pairs`)
    holds r and its alias side by side, so that the alias test chooses a load's index
    instead of a branch. No step depends on another candidate's and nothing branches on
    a draw, so the CPU overlaps the candidates' long chains of hashes and the compiler
    vectorises the bijection and the second draw: a branch on the alias test,
    mispredicted at random, and a running output position made each candidate wait on
    the one before (the pass took 3x as long).
    """
    for t in range(k_count):  # who: the stratum (the alias test picks an index: no branch)
        x = streams.uniform(key, c + np.uint64(2 * t)) * weight
        y = x / s_total * (BLOCK - 1)
        r = min(np.int64(y), BLOCK - 2)  # a valid stratum even for the top citizen
        r = np.int64(pairs[2 * r + np.int64(y - r >= s_prob[r])])
        r_buf[out + t] = r - (r + 1) * np.int64(x >= s_total)  # -1: the top citizen
    for t in range(k_count):  # the stratum's citizen: the block's rank bijection
        r = np.int64(r_buf[out + t])
        j = local_id(pk, max(r, 0))
        actor[out + t] = lo + j + (top - j) * np.int64(r < 0)
    for t in range(k_count):  # kept: the second draw
        w_buf[out + t] = streams.uniform(key, c + np.uint64(2 * t + 1))


@njit(cache=True, **HELPER)
def _keep(
    first: int,
    k_count: int,
    lo: int,
    m: int,
    off: int,
    deterrence: np.ndarray,
    levels: np.ndarray | None,
    vk: np.uint64,
    s_env: np.ndarray,
    s_low: np.ndarray,
    table: np.ndarray,
    actor: np.ndarray,
    w_buf: np.ndarray,
    r_buf: np.ndarray,
) -> int:
    """Pass 2 of the simple path: a block's kept candidates, compacted from `first`; count.

    Kept iff w x e_r < g x d (w < d for the top citizen), the squeeze or the bound
    deciding most without g; an empty slot of a partial block is dropped. Branch-free
    but for the squeeze's rare misses: a kept/dropped branch on a state read serialised
    the reads' cache misses (1.5x). A plain function, not the parallel loop's body, so
    that it compiles as tightly as a serial loop.
    """
    out = first
    for t in range(first, first + k_count):
        i, w, r = actor[t], w_buf[t], r_buf[t]
        here = i < lo + m  # else an empty slot of a partial block
        i = i if here else lo
        d = deterrence[i] if levels is None else levels[deterrence[i]]
        if r < 0:
            ok = w < d
        else:
            low = s_low[r] * d
            ok = w < low  # the squeeze; else the bound g <= e_r, else g
            if (w >= low) & (w < d * (1.0 + MARGIN)):
                u = (r + streams.uniform(vk, np.uint64(i - lo))) / BLOCK
                ok = w * s_env[r] < body_quantile(table, u) * d
        actor[out] = i + off  # out <= t: a slot already read
        out += np.int64(ok & here)
    return out - first


@njit(cache=True, **HELPER)
def _alias_pairs(s_alias: np.ndarray) -> np.ndarray:
    """[r, alias of r] for each body stratum r, interleaved (int16; `_candidates`)."""
    pairs = np.empty(2 * s_alias.size, dtype=np.int16)
    for r in range(s_alias.size):
        pairs[2 * r] = r
        pairs[2 * r + 1] = s_alias[r]
    return pairs


@njit(cache=True, **HELPER)
def _pick(table: np.ndarray, u: float) -> int:
    """A behaviour drawn from a small alias table (row 0: keep chance, row 1: alias)."""
    x = u * table.shape[1]
    k = np.int64(x)
    if x - k >= table[0, k]:
        k = np.int64(table[1, k])
    return k


def kind_alias(weights: np.ndarray) -> np.ndarray:
    """Alias table over behaviours for `_pick`: O(1) per draw whatever the catalog size."""
    w = np.asarray(weights, dtype=np.float64)
    k = w.size
    total = w.sum()
    scaled = w * k / total if total > 0 else np.ones(k)
    prob, alias = np.ones(k), np.arange(k, dtype=np.float64)
    small = [i for i in range(k) if scaled[i] < 1.0]
    large = [i for i in range(k) if scaled[i] >= 1.0]
    while small and large:
        s, g = small.pop(), large[-1]
        prob[s], alias[s] = scaled[s], g
        scaled[g] = scaled[g] + scaled[s] - 1.0
        if scaled[g] < 1.0:
            small.append(large.pop())
    return np.vstack([prob, alias])


@njit(cache=True, **HELPER)
def _accept(
    key: np.uint64,
    c: np.uint64,
    i: int,
    k: int,
    deterrence: np.ndarray,
    levels: np.ndarray | None,
    undeterred: np.ndarray,
    multiplier: np.ndarray,
    age: np.ndarray,
    age_lo: np.ndarray,
    age_hi: np.ndarray,
) -> tuple[bool, np.uint64]:
    """Thin one candidate act (i, k): kept with probability eligibility x d_i x m_k.

    Specific deterrence d_i applies to violations only: rewarded acts and lawful acts
    (`undeterred[k]`) respond to today's multiplier m_k alone (chilling, for lawful acts).
    d_i is `deterrence[i]`, or `levels[deterrence[i]]` with uint8 levels
    (`deterrence_levels`): Numba prunes the `levels is None` branch when it compiles, so
    each kind of deterrence gets its own machine code, with no choice per act.
    """
    if age.size > 0 and (age[i] < age_lo[k] or age[i] > age_hi[k]):
        return False, c
    a = multiplier[k]
    if not undeterred[k]:
        a *= deterrence[i] if levels is None else levels[deterrence[i]]
    if a < 1.0:
        kept = streams.uniform(key, c) < a
        return kept, c + np.uint64(1)
    return True, c


@njit(cache=True, **HELPER)
def _keep_body(
    key: np.uint64,
    c: np.uint64,
    j: int,
    r: int,
    a: float,
    v_key: np.uint64,
    s_env: np.ndarray,
    s_low: np.ndarray,
    table: np.ndarray,
) -> tuple[bool, np.uint64]:
    """Keep a body-stratum candidate (local id j, stratum r) with probability a x g / e_r.

    One uniform w: kept iff w x e_r < g x a, where g is the citizen's propensity; the
    squeeze (`strata_low`) and the bound g <= e_r decide most candidates without deriving
    g, and they decide them as the exact test would (their margins exceed rounding).
    """
    w = streams.uniform(key, c)
    c += np.uint64(1)
    if w < s_low[r] * a:
        return True, c
    if w >= a * (1.0 + MARGIN):
        return False, c
    g = body_quantile(table, (r + streams.uniform(v_key, np.uint64(j))) / BLOCK)
    return w * s_env[r] < g * a, c


@njit(cache=True, **HELPER)
def _layout(
    seed: int,
    day: int,
    n: int,
    top_g: np.ndarray,
    s_total: float,
    rate_a: float,
    rate_b: float,
    block0: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per block: candidates of the first source, stream position after, slots (offsets).

    The offsets give each block's slots in the day's buffers, for both sources. Serial:
    a few thousand Poisson draws, microseconds beside the day's acts.
    """
    n_blocks = top_g.size
    count_a = np.empty(n_blocks, dtype=np.int64)
    after_a = np.empty(n_blocks, dtype=np.uint64)
    offsets = np.zeros(n_blocks + 1, dtype=np.int64)
    for b in range(n_blocks):
        m = min(b * BLOCK + BLOCK, n) - b * BLOCK
        ka, ca = streams.poisson(
            streams.stream_key(seed, streams.BEHAVE, day, b + block0),
            np.uint64(0),
            rate_a * (s_total + top_g[b]),
        )
        count_a[b] = ka
        after_a[b] = ca
        kb = 0
        if rate_b > 0.0:
            kb, _ = streams.poisson(
                streams.stream_key(seed, streams.BEHAVE_UNIFORM, day, b + block0),
                np.uint64(0),
                rate_b * m,
            )
        offsets[b + 1] = offsets[b] + ka + kb
    return count_a, after_a, offsets


@sized_kernel(2)
def _simple_kernel(
    seed: int,
    day: int,
    deterrence: np.ndarray,
    levels: np.ndarray | None,
    n: int,
    top_g: np.ndarray,
    top_j: np.ndarray,
    perm_key: np.ndarray,
    v_key: np.ndarray,
    s_prob: np.ndarray,
    s_alias: np.ndarray,
    s_env: np.ndarray,
    s_low: np.ndarray,
    s_total: float,
    table: np.ndarray,
    rate_a: float,
    block0: int,
) -> tuple[np.ndarray, np.ndarray]:
    """`_behave_kernel`'s short path: one behaviour, no age limits, no rate multipliers.

    Deterrence folds into the propensity's thinning: w x e_r < g x d_i. Two draws per
    candidate whatever happens (x: who, w: kept), so that no candidate's counter waits
    on another's memory reads. Pass 1 (`_candidates`) finds who, reading no state; pass 2
    reads the state of all of them, reads independent of one another, and keeps
    branch-free: a kept/dropped branch on a state read serialised the reads' cache
    misses (1.5x). The blocks' Poisson counts and the final gathering of the kept acts
    run in parallel too (`_layout` and `_gather`, serial, took a tenth of the kernel).
    """
    n_blocks = top_g.size
    off = block0 * BLOCK  # first id of the blocks given (a shard's; 0 in one process)
    count_a = np.empty(n_blocks, dtype=np.int64)
    after_a = np.empty(n_blocks, dtype=np.uint64)
    for b in prange(n_blocks):  # `_layout`'s draws, in parallel (its sums follow)
        count_a[b], after_a[b] = streams.poisson(
            streams.stream_key(seed, streams.BEHAVE, day, b + block0),
            np.uint64(0),
            rate_a * (s_total + top_g[b]),
        )
    offsets = np.zeros(n_blocks + 1, dtype=np.int64)
    for b in range(n_blocks):
        offsets[b + 1] = offsets[b] + count_a[b]
    size = offsets[n_blocks]
    actor = np.empty(size, dtype=np.int32)
    w_buf = np.empty(size, dtype=np.float64)  # the candidates between the two passes
    r_buf = np.empty(size, dtype=np.int16)
    kept = np.zeros(n_blocks, dtype=np.int64)
    pairs = _alias_pairs(s_alias)
    for b in prange(n_blocks):
        lo = b * BLOCK
        m = min(lo + BLOCK, n) - lo
        first = offsets[b]
        key = streams.stream_key(seed, streams.BEHAVE, day, b + block0)
        vk = v_key[b]
        for q in range(lo, lo + m, 64 // deterrence.itemsize):  # the block's state lines
            prefetch(deterrence, q)
        _candidates(
            key,
            after_a[b],
            count_a[b],
            s_total + top_g[b],
            s_total,
            top_j[b],
            s_prob,
            pairs,
            perm_key[b],
            lo,
            actor,
            w_buf,
            r_buf,
            first,
        )
        kept[b] = _keep(
            first, count_a[b], lo, m, off, deterrence, levels, vk, s_env, s_low, table,
            actor, w_buf, r_buf,
        )  # fmt: skip
    dest = np.zeros(n_blocks + 1, dtype=np.int64)  # `_gather`, in parallel
    for b in range(n_blocks):
        dest[b + 1] = dest[b] + kept[b]
    acts = np.empty(dest[n_blocks], dtype=np.int32)
    for b in prange(n_blocks):
        for t in range(kept[b]):
            acts[dest[b] + t] = actor[offsets[b] + t]
    return acts, np.zeros(acts.size, dtype=np.uint8)  # one behaviour: every act's kind is 0


@sized_kernel(2)
def _general_kernel(
    seed: int,
    day: int,
    deterrence: np.ndarray,
    levels: np.ndarray | None,
    n: int,
    top_g: np.ndarray,
    top_j: np.ndarray,
    perm_key: np.ndarray,
    v_key: np.ndarray,
    s_prob: np.ndarray,
    s_alias: np.ndarray,
    s_env: np.ndarray,
    s_low: np.ndarray,
    s_total: float,
    table: np.ndarray,
    rate_a: float,
    kinds_a: np.ndarray,
    rate_b: float,
    kinds_b: np.ndarray,
    undeterred: np.ndarray,
    multiplier: np.ndarray,
    multiplier_b: np.ndarray,
    age: np.ndarray,
    age_lo: np.ndarray,
    age_hi: np.ndarray,
    block0: int,
) -> tuple[np.ndarray, np.ndarray]:
    """`_behave_kernel`'s general path: behaviours by rate share, age limits, multipliers.

    Each candidate of the first source passes the propensity test (`_keep_body`), then
    its behaviour is drawn and the act thinned by `_accept`; the second source's
    candidates go straight to `_accept`.
    """
    n_blocks = top_g.size
    off = block0 * BLOCK  # first id of the blocks given (a shard's; 0 in one process)
    multi_a = kinds_a.shape[1] > 1
    multi_b = kinds_b.shape[1] > 1
    count_a, after_a, offsets = _layout(seed, day, n, top_g, s_total, rate_a, rate_b, block0)
    actor = np.empty(offsets[n_blocks], dtype=np.int32)
    kind = np.empty(offsets[n_blocks], dtype=np.uint8)
    kept = np.zeros(n_blocks, dtype=np.int64)
    for b in prange(n_blocks):
        lo = b * BLOCK
        m = min(lo + BLOCK, n) - lo
        weight = s_total + top_g[b]
        out = offsets[b]
        key = streams.stream_key(seed, streams.BEHAVE, day, b + block0)
        pk, vk = perm_key[b], v_key[b]
        c = after_a[b]
        for _ in range(count_a[b]):
            # the candidate: the top citizen, or a body stratum r and its citizen
            x = streams.uniform(key, c) * weight
            c += np.uint64(1)
            r = -1
            if x >= s_total:
                i = lo + top_j[b]
            else:
                y = x / s_total * (BLOCK - 1)
                r = min(np.int64(y), BLOCK - 2)
                if y - r >= s_prob[r]:
                    r = np.int64(s_alias[r])
                j = local_id(pk, r)
                if j >= m:  # an empty slot of a partial block
                    continue
                i = lo + j
            if r >= 0:
                ok, c = _keep_body(key, c, i - lo, r, 1.0, vk, s_env, s_low, table)
                if not ok:
                    continue
            k = 0
            if multi_a:
                k = _pick(kinds_a, streams.uniform(key, c))
                c += np.uint64(1)
            ok, c = _accept(
                key, c, i, k, deterrence, levels, undeterred, multiplier, age, age_lo, age_hi
            )
            if ok:
                actor[out] = i + off
                kind[out] = k
                out += 1
        if rate_b > 0.0:
            key = streams.stream_key(seed, streams.BEHAVE_UNIFORM, day, b + block0)
            k_count, c = streams.poisson(key, np.uint64(0), rate_b * m)
            for _ in range(k_count):
                i = lo + np.int64(streams.uniform(key, c) * m)
                c += np.uint64(1)
                k = 0
                if multi_b:
                    k = _pick(kinds_b, streams.uniform(key, c))
                    c += np.uint64(1)
                ok, c = _accept(
                    key, c, i, k, deterrence, levels, undeterred, multiplier_b, age, age_lo, age_hi
                )
                if ok:
                    actor[out] = i + off
                    kind[out] = k
                    out += 1
        kept[b] = out - offsets[b]
    return _gather(actor, kind, offsets, kept)


def _behave_kernel(
    seed: int,
    day: int,
    deterrence: np.ndarray,
    n: int,
    top_g: np.ndarray,
    top_j: np.ndarray,
    perm_key: np.ndarray,
    v_key: np.ndarray,
    s_prob: np.ndarray,
    s_alias: np.ndarray,
    s_env: np.ndarray,
    s_low: np.ndarray,
    s_total: float,
    table: np.ndarray,
    rate_a: float,
    kinds_a: np.ndarray,
    rate_b: float,
    kinds_b: np.ndarray,
    undeterred: np.ndarray,
    multiplier: np.ndarray,
    multiplier_b: np.ndarray,
    age: np.ndarray,
    age_lo: np.ndarray,
    age_hi: np.ndarray,
    simple: bool,
    levels: np.ndarray | None = None,
    block0: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Acts of one day as (actor, behaviour) arrays, in block order.

    Candidates come from two superposed Poisson sources: one at rate g_i * rate_a
    (drawn by thinning the block's strata envelope, `_candidates` and `_keep_body`) and
    one at rate rate_b for everyone in the block (uniform slot); behaviours loading on
    the propensity feed the first, the rest the second. Each candidate is then thinned by
    `_accept`. `simple` (one behaviour, no age limits, no rate multipliers, no second
    source) takes the minimal model's short path, `_simple_kernel`; otherwise
    `_general_kernel`. Two kernels rather than a branch: a run compiles only the one it
    uses. d_i is `deterrence[i]`, or `levels[deterrence[i]]` when `levels` (uint8 levels,
    `deterrence_levels`) is given. The arrays cover the blocks from global block
    `block0` on (a shard's; 0 in one process): streams are keyed by the global block,
    acts name global ids, state is indexed from the first block given.
    """
    if simple:
        return _simple_kernel(
            seed, day, deterrence, levels, n, top_g, top_j, perm_key, v_key, s_prob,
            s_alias, s_env, s_low, s_total, table, rate_a, block0,
        )  # fmt: skip
    return _general_kernel(
        seed, day, deterrence, levels, n, top_g, top_j, perm_key, v_key, s_prob, s_alias,
        s_env, s_low, s_total, table, rate_a, kinds_a, rate_b, kinds_b, undeterred,
        multiplier, multiplier_b, age, age_lo, age_hi, block0,
    )  # fmt: skip


@njit(cache=True, **KERNEL)
def _count_acts(actors: np.ndarray, committed: np.ndarray) -> None:
    """committed[i] += 1 per act of i, in a tight loop after the day's draw.

    Inside the draw, the read-modify-write of a cold cache line per act stalled it (2x).
    """
    for t in range(actors.size):
        committed[actors[t]] += 1


@njit(cache=True, **KERNEL)
def _gather(
    actor: np.ndarray, kind: np.ndarray, offsets: np.ndarray, kept: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The kept acts of every block, contiguous, in block order."""
    total = 0
    for b in range(kept.size):
        total += kept[b]
    actor_out = np.empty(total, dtype=np.int32)
    kind_out = np.empty(total, dtype=np.uint8)
    pos = 0
    for b in range(kept.size):
        s = offsets[b]
        for j in range(kept[b]):
            actor_out[pos] = actor[s + j]
            kind_out[pos] = kind[s + j]
            pos += 1
    return actor_out, kind_out


MAX_LEVEL = 255  # the most records a uint8 deterrence level counts


def deterrence_levels(scenario: Scenario) -> np.ndarray | None:
    """The multiplier after k records, k = 0..L, when it depends only on the record count.

    That holds when `Adapt` multiplies by one constant factor per violation record, with no
    fading (`half_life_days`) and no network deterrence: d_k = max(floor, d_(k-1) x factor)
    in float32, computed here by the same operations as `_deter_kernel`, so a uint8 level
    (1 B, the count capped where d stops changing) replaces the float32 (4 B) with the same
    values bit for bit. None (float multipliers) otherwise, or when more than `MAX_LEVEL`
    records still change d.
    """
    r, run = scenario.response, scenario.run
    daily = Daily(r.deterrence, run.start, run.days)
    network = scenario.network is not None and r.network_deterrence < 1.0
    if not daily.constant or r.half_life_days or network:
        return None
    factor, floor = np.float32(daily.first), np.float32(r.deterrence_floor)
    table = [np.float32(1.0)]
    while True:
        nxt = max(floor, np.float32(table[-1] * factor))
        if nxt == table[-1]:
            return np.array(table, dtype=np.float32)
        if len(table) > MAX_LEVEL:
            return None
        table.append(nxt)


def count_dtype(expected_max: float) -> type:
    """Smallest unsigned dtype for a per-citizen count whose largest mean is given.

    Counts are Poisson-like; a margin of 12 standard deviations above the largest
    citizen's mean makes overflow practically impossible.
    """
    bound = expected_max + 12.0 * np.sqrt(expected_max + 1.0) + 16.0
    return np.uint16 if bound < np.iinfo(np.uint16).max else np.uint32


@register
class Behave(Module):
    """Stage 1: who commits which acts today. Owns `committed` and `deterrence`.

    `multiplier[k]` scales behaviour k's rate today (at most 1); response modules such as
    announcements and chilling set it. Specific deterrence `deterrence[i]` scales
    citizen i's negative acts. Provides ``deterrence``, ``multiplier`` and
    ``count_dtype`` (the dtype of per-citizen act and record counts).
    """

    name = "behave"
    phase = Phase.BEHAVE
    provides = ("deterrence", "multiplier", "count_dtype", "violation")
    shards = True  # draws its own blocks' acts, keyed by the global block

    @classmethod
    def needs(cls, scenario: Scenario, **kwargs: object) -> set[str]:
        """Ages, when a behaviour is limited to an age range."""
        limited = any(b.ages[0] > 0 or b.ages[1] < 120 for b in scenario.behaviors.values())
        return {"age"} if limited else set()

    def __init__(self, sim: Any) -> None:
        """Set up the catalog's rates and the per-citizen state this stage owns."""
        super().__init__(sim)
        scenario = sim.scenario
        population = sim.population
        cat = list(scenario.behaviors.values())
        self.behaviors = list(scenario.behaviors)
        run = scenario.run
        daily = [Daily(b.rate, run.start, run.days) for b in cat]
        # dated rates: one row of rates per day, computed once; None when all are numbers
        self.rates_by_day = (
            np.ascontiguousarray(np.vstack([d.values for d in daily]).T)
            if any(not d.constant for d in daily)
            else None
        )
        rates = np.array([d.first for d in daily], dtype=np.float64)
        self.loading = np.array([b.loading for b in cat], dtype=np.float64)
        self.set_rates(rates)
        # violations: negative and unlawful; only they are deterred by one's own records
        self.act_kind = act_kinds(scenario.behaviors)
        self.violation = self.act_kind == 0
        self.present = sorted(set(self.act_kind.tolist()))
        self.split = self.present != [0]
        self.multiplier = np.ones(len(cat), dtype=np.float64)
        self.age_lo = np.array([b.ages[0] for b in cat], dtype=np.uint8)
        self.age_hi = np.array([b.ages[1] for b in cat], dtype=np.uint8)
        all_ages = all(b.ages[0] == 0 and b.ages[1] >= 120 for b in cat)
        age = sim.need("age") if sim.has("age") else None
        self.age = np.empty(0, dtype=np.uint8) if all_ages or age is None else age
        self.population = population
        peak = float(np.array([d.peak for d in daily], dtype=np.float64).sum())
        dt = count_dtype(population.propensity_max * peak * scenario.run.days)
        # acts per citizen feed only the people table: not kept when it is not written
        self.keep_committed = scenario.run.people
        self.committed = (
            self.add_state(
                StateSpec("committed", dt, "acts committed so far", truth=True),
                np.zeros(population.size, dtype=dt),
            )
            if self.keep_committed
            else np.zeros(0, dtype=dt)
        )
        self.levels = deterrence_levels(scenario)
        if self.levels is None:
            self.deterrence = self.add_state(
                StateSpec("deterrence", np.float32, "specific deterrence multiplier"),
                np.ones(population.size, dtype=np.float32),
            )
        else:  # the multiplier is levels[level]: 1 byte instead of 4, the same values
            self.deterrence = self.add_state(
                StateSpec(
                    "deterrence",
                    np.uint8,
                    "specific deterrence level: violation records so far, capped where the "
                    "multiplier stops changing",
                ),
                np.zeros(population.size, dtype=np.uint8),
            )
        self.seed = scenario.run.seed
        self.offset = sim.lo  # first id of this simulation's citizens (a shard's; else 0)
        self._today = np.empty(0, dtype=np.uint8)
        sim.provide("deterrence", self.deterrence)
        sim.provide("multiplier", self.multiplier)
        sim.provide("count_dtype", dt)
        sim.provide("violation", self.violation)

    def set_rates(self, rates: np.ndarray) -> None:
        """Each source's total rate and behaviour tables from the behaviours' rates."""
        loading = self.loading
        self.rates = rates
        self.rate_a = float((rates * loading).sum())
        self.rate_b = float((rates * (1.0 - loading)).sum())
        # kind tables per source; the minimal model (one behaviour) draws no kind at all
        self.kinds_a = kind_alias(rates * loading)
        self.kinds_b = kind_alias(rates * (1.0 - loading))
        self.weights_a = rates * loading
        self.weights_b = rates * (1.0 - loading)

    def columns(self) -> list[Column]:
        """Acts committed today; by kind (violations, lawful, rewarded) and by behaviour."""
        cols = [
            Column(
                "committed", agg="sum", unit="acts", label="acts committed", headline=True, order=1
            ),
        ]
        if self.split:  # acts of more than one kind: the funnel splits by kind
            cols += [
                Column(
                    f"committed_{KINDS[k]}",
                    agg="sum",
                    unit="acts",
                    label=f"{KIND_NOUNS[k]} committed",
                    family="committed_kind",
                    key=KINDS[k],
                    headline=k == 0,
                )
                for k in self.present
            ]
        if len(self.behaviors) > 1:
            cols += [
                Column(
                    f"committed_{b}",
                    agg="sum",
                    unit="acts",
                    label=f"{b} acts committed",
                    family="committed",
                    key=b,
                )
                for b in self.behaviors
            ]
        return cols

    def values(self, ctx: DayContext) -> dict[str, float]:
        """Today's acts."""
        out: dict[str, float] = {"committed": ctx.actors.size}
        if len(self.behaviors) > 1:
            per = np.bincount(ctx.kinds, minlength=len(self.behaviors))
            out.update({f"committed_{b}": per[k] for k, b in enumerate(self.behaviors)})
            if self.split:
                by_kind = np.bincount(self.act_kind, weights=per, minlength=3)
                out.update({f"committed_{KINDS[k]}": int(by_kind[k]) for k in self.present})
        return out

    def exports(self) -> list[Export]:
        """Acts each citizen committed (simulator-only truth)."""
        return [Export("committed", "acts committed in the run", truth=True, order=3)]

    def people(self) -> dict[str, np.ndarray]:
        """The committed counts."""
        return {"committed": self.committed}

    def extra_state(self) -> dict[str, np.ndarray]:
        """Today's rate multipliers (set by the response module, kept between days)."""
        return {"multiplier": self.multiplier}

    def load_extra_state(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore the rate multipliers in place."""
        self.multiplier[:] = arrays["multiplier"]

    def step(self, ctx: DayContext) -> None:
        """The day's acts into `ctx.actors` / `ctx.kinds`, using deterrence at day start.

        When today's multipliers are all below 1, each source draws its candidates at its
        largest multiplier and thins with the ratio (exactly the same law, fewer draws).
        Dated rates: the tables are rebuilt only on a day whose rates differ from those in
        use (a comparison of K numbers on the other days).
        """
        if self.rates_by_day is not None:
            today = self.rates_by_day[ctx.day]
            if not np.array_equal(today, self.rates):
                self.set_rates(today.copy())
        p = self.population
        m = self.multiplier
        in_a = self.weights_a > 0
        in_b = self.weights_b > 0
        top_a = float(m[in_a].max()) if in_a.any() else 1.0
        top_b = float(m[in_b].max()) if in_b.any() else 1.0
        top_a, top_b = (top_a if top_a > 0 else 1.0), (top_b if top_b > 0 else 1.0)
        mult_a, mult_b = m / top_a, m / top_b
        # the short path draws no kind: only for one behaviour (every act is of kind 0)
        simple = bool(
            len(self.behaviors) == 1
            and self.age.size == 0
            and self.violation.all()
            and (mult_a == 1.0).all()
            and self.rate_b == 0.0
        )
        ctx.actors, ctx.kinds = _behave_kernel(
            self.seed,
            ctx.day,
            self.deterrence,
            p.size,
            p.top_g,
            p.top_j,
            p.perm_key,
            p.v_key,
            p.strata_prob,
            p.strata_alias,
            p.strata_env,
            p.strata_low,
            p.strata_total,
            p.table,
            self.rate_a * top_a,
            self.kinds_a,
            self.rate_b * top_b,
            self.kinds_b,
            ~self.violation,
            mult_a,
            mult_b,
            self.age,
            self.age_lo,
            self.age_hi,
            simple,
            self.levels,
            self.offset // BLOCK,
        )
        if self.keep_committed:
            _count_acts(ctx.actors - self.offset if self.offset else ctx.actors, self.committed)


@sized_kernel(2)
def _level_kernel(target: np.ndarray, top: int, level: np.ndarray, parts: int = 1) -> None:
    """level_j = min(level_j + 1, top) once per record against j (`deterrence_levels`).

    `parts` id ranges (threads, in the parallel version) each take their own citizens'
    records: the same levels whatever `parts`.
    """
    size = level.size
    for p in prange(parts):
        lo, hi = size * p // parts, size * (p + 1) // parts
        for r in range(target.size):
            if r + 16 < target.size:  # the level of the record 16 on: misses overlap
                q = target[r + 16]
                if q >= lo and q < hi:
                    prefetch(level, q)
            j = target[r]
            if j >= lo and j < hi and level[j] < top:
                level[j] += 1


@njit(cache=True, **KERNEL)
def _deter_kernel(target: np.ndarray, factor: float, floor: float, d: np.ndarray) -> None:
    """d_j = max(floor, d_j * factor) once per record against j."""
    for r in range(target.size):
        j = target[r]
        d[j] = max(floor, d[j] * factor)


@register
class Adapt(Module):
    """Stage 7: specific deterrence. Each violation record against j lowers j's multiplier.

    Applied after the day's behaviour, so acts always use d as it was at day start.
    Records against household members and friends lower it by `network_deterrence`
    (when the scenario has a social graph), once per record and tie. With
    `half_life_days`, every `DECAY_EVERY` days all multipliers move back toward 1:
    d <- 1 - (1 - d) * 2^(-DECAY_EVERY / h).
    """

    name = "adapt"
    phase = Phase.ADAPT
    DECAY_EVERY = 30
    # lowers the multipliers of the records' (own) citizens; with network deterrence a
    # national barrier every day hands each shard the day's targets of every shard, whose
    # circles (household members, friends) may live here (every shard holds the graph)
    shards = True

    @classmethod
    def needs(cls, scenario: Scenario, **kwargs: object) -> set[str]:
        """The deterrence array and, for network deterrence, the graph."""
        net = scenario.network is not None and scenario.response.network_deterrence < 1.0
        return {"deterrence", "violation"} | ({"network"} if net else set())

    def __init__(self, sim: Any) -> None:
        """Share the deterrence array owned by `Behave`.

        A dated `deterrence` is precomputed per day; `step` reads today's.
        """
        super().__init__(sim)
        r, run = sim.scenario.response, sim.scenario.run
        self.daily_factor = Daily(r.deterrence, run.start, run.days)
        self.factor = np.float32(self.daily_factor.first)
        self.floor = np.float32(r.deterrence_floor)
        self.network_factor = np.float32(r.network_deterrence)
        self.deterrence = sim.need("deterrence")
        levels = deterrence_levels(sim.scenario)  # as Behave: the same scenario, same table
        self.top = -1 if levels is None else levels.size - 1
        self.violation = sim.need("violation")
        self.active = self.daily_factor.values.min(initial=self.daily_factor.first) < 1.0
        use_network = sim.has("network") and r.network_deterrence < 1.0
        self.network = sim.need("network") if use_network else None
        self.lo = sim.lo  # the first citizen of this simulation (records name local ids)
        self.whole = sim.size == sim.scenario.population.size
        self._gathered: np.ndarray | None = None  # today's own targets, at the barrier
        self.half_life = r.half_life_days
        # one id range per thread where the kernel runs parallel (the same result for any)
        self.parts = numba.get_num_threads() if sim.size >= PARALLEL_FROM else 1

    def step(self, ctx: DayContext) -> None:
        """Lower the multiplier of everyone with a record today (and of their circle).

        With network deterrence the step is `gather`, `decide`, `scatter` over this
        simulation alone: the path a sharded run splits at its national barrier.
        """
        if self.network is not None:
            self.scatter(ctx, self.decide(ctx.day, [self.gather(ctx)])[0])
            return
        self._own(ctx)
        self._decay(ctx)

    def _own(self, ctx: DayContext) -> np.ndarray:
        """Lower the multipliers of today's targets here; returns them (local ids)."""
        batch = ctx.batch
        target = batch.attributed_to[self.violation[batch.behavior]]
        if not self.daily_factor.constant:
            self.factor = np.float32(self.daily_factor.at(ctx.day))
        if self.top >= 0:  # level mode: constant factor, no fading, no network deterrence
            if self.top > 0:
                _level_kernel(target, self.top, self.deterrence, self.parts)
        elif self.active:
            _deter_kernel(target, self.factor, self.floor, self.deterrence)
        return target

    def national_day(self, day: int) -> bool:
        """With network deterrence, every day: a record's circle may live in any shard."""
        return self.network is not None

    def gather(self, ctx: DayContext) -> np.ndarray:
        """Own targets lowered; their global ids, for every shard's circles."""
        target = self._own(ctx)
        self._gathered = target + np.int32(self.lo) if self.lo else target
        return self._gathered

    def decide(self, day: int, parts: list[np.ndarray]) -> list[np.ndarray]:
        """For each shard, the other shards' targets of the day (its own it kept)."""
        none = np.zeros(0, np.int32)
        return [np.concatenate([none, *parts[:s], *parts[s + 1 :]]) for s in range(len(parts))]

    def scatter(self, ctx: DayContext, result: np.ndarray) -> None:
        """Lower the multipliers of every target's circle members here, then the fading.

        The targets are this shard's, then the others' (one process: its own only); the
        scaling is the same operation for each, so their order does not matter.
        """
        net, own, self._gathered = self.network, self._gathered, None
        if own is None:
            raise RuntimeError("adapt: scatter() before gather()")
        result = np.concatenate([own, result]) if result.size else own
        if net is not None and result.size:
            if self.whole:
                net.scale_circle(result, self.deterrence, self.network_factor, self.floor)
            else:
                scale_circle_range(
                    net, result, self.deterrence, self.lo, self.network_factor, self.floor
                )
        self._decay(ctx)

    def _decay(self, ctx: DayContext) -> None:
        """Every `DECAY_EVERY` days, with a half-life, multipliers move back toward 1."""
        if self.half_life and (ctx.day + 1) % self.DECAY_EVERY == 0:
            keep = np.float32(2.0 ** (-self.DECAY_EVERY / self.half_life))
            d = self.deterrence
            np.subtract(1.0, d, out=d)
            np.multiply(d, keep, out=d)
            np.subtract(1.0, d, out=d)
