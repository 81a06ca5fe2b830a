"""Score: the policies that turn records into scores, grades and list entries.

Every policy keeps its counterfactual beside it: the same rules applied to correct
records only, so each wrongful point, grade and listing can be counted.

- `PointsLedger` (the main score, city-pilot style): each record against j moves score_j
  by the behaviour's points (down for negative acts, not below the floor; up for
  rewarded acts, not above the cap); a correct record moves true_score_j as well. At
  the end of each recovery period, a citizen with no record of any kind in it regains
  `recovery.points` (up to `start`), and one with no correct record regains them on
  true_score. Grade bands name score ranges; a `drops` behaviour sends the score down
  to the top of a grade at once.
- `FactorsScore` (commercial style): a weighted sum of dimensions in [0, 1] scaled to a
  range, recomputed on a schedule.
- `ListPolicy`: black- and red-lists with an entry rule, a duration and early exit.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from panopticon.core import streams
from panopticon.core.records import RecordBatch
from panopticon.scenario.schema import FactorsPolicy, ListPolicy, Scenario

ANY_RECORD = np.uint8(1)
CORRECT_RECORD = np.uint8(2)
NO_DROP = np.int64(-(2**62))


def score_dtype(low: float, high: float) -> type:
    """Smallest signed integer dtype holding every score in [low, high]."""
    for dt in (np.int16, np.int32):
        if np.iinfo(dt).min <= low and high <= np.iinfo(dt).max:
            return dt
    return np.int64


class Grades:
    """Grade bands of one policy: codes 0 (best) .. G-1, counted for score and counterfactual.

    `pairs[g, t]` counts citizens in grade g whose counterfactual grade is t; it is kept
    incrementally: only citizens whose score changed are re-examined, except after a
    population-wide pass (recovery, recomputation).
    """

    def __init__(
        self, bands: dict[str, tuple[float, float]], score: np.ndarray, true_score: np.ndarray
    ) -> None:
        """Order bands best first and classify everyone's starting scores."""
        ordered = sorted(bands.items(), key=lambda kv: -kv[1][0])
        self.names = [k for k, _ in ordered]
        self.names_array = np.array(self.names)
        self.lows = np.array([v[0] for _, v in ordered], dtype=np.float64)
        self.highs = {k: v[1] for k, v in ordered}
        self.score, self.true_score = score, true_score
        self.grade = np.zeros(score.size, dtype=np.uint8)
        self.true_grade = np.zeros(score.size, dtype=np.uint8)
        k = len(self.names)
        self._pairs = np.zeros((k, k), dtype=np.int64)
        self.refresh_all()

    def pairs(self) -> np.ndarray:
        """Counts of (grade, true grade) pairs, shape (G, G)."""
        return self._pairs

    @property
    def counts(self) -> np.ndarray:
        """Citizens per grade."""
        return self._pairs.sum(axis=1)

    @property
    def wrong(self) -> np.ndarray:
        """Citizens per grade whose counterfactual grade is better (a smaller code)."""
        return np.tril(self._pairs, k=-1).sum(axis=1)

    def refresh_all(self) -> None:
        """Re-examine everyone."""
        _grade_all(self.score, self.true_score, self.lows, self.grade, self.true_grade, self._pairs)

    def refresh(self, touched: np.ndarray) -> None:
        """Re-examine the citizens whose scores changed."""
        _grade_touched(
            touched,
            self.score,
            self.true_score,
            self.lows,
            self.grade,
            self.true_grade,
            self._pairs,
        )


@njit(cache=True, inline="always")
def _band(value: float, lows: np.ndarray) -> int:
    """Grade code of a score: the first band (best first) whose low end it reaches."""
    for g in range(lows.size):
        if value >= lows[g]:
            return g
    return lows.size - 1


@njit(cache=True, parallel=True)
def _grade_all(
    score: np.ndarray,
    true_score: np.ndarray,
    lows: np.ndarray,
    grade: np.ndarray,
    true_grade: np.ndarray,
    pairs: np.ndarray,
) -> None:
    """Classify everyone and count (grade, true grade) pairs (blocks in parallel)."""
    k = lows.size
    n = score.size
    n_blocks = (n + 65535) // 65536
    local = np.zeros((n_blocks, k, k), dtype=np.int64)
    for b in prange(n_blocks):
        for i in range(b * 65536, min(n, b * 65536 + 65536)):
            g = _band(score[i], lows)
            t = _band(true_score[i], lows)
            grade[i] = g
            true_grade[i] = t
            local[b, g, t] += 1
    pairs[:, :] = 0
    for b in range(n_blocks):
        pairs += local[b]


@njit(cache=True)
def _grade_touched(
    touched: np.ndarray,
    score: np.ndarray,
    true_score: np.ndarray,
    lows: np.ndarray,
    grade: np.ndarray,
    true_grade: np.ndarray,
    pairs: np.ndarray,
) -> None:
    """Re-classify the touched citizens, keeping the pair counts in step."""
    for r in range(touched.size):
        i = touched[r]
        g, t = _band(score[i], lows), _band(true_score[i], lows)
        og, ot = grade[i], true_grade[i]
        if g != og or t != ot:
            pairs[og, ot] -= 1
            pairs[g, t] += 1
            grade[i] = g
            true_grade[i] = t


@njit(cache=True)
def _apply_kernel(
    target: np.ndarray,
    kinds: np.ndarray,
    correct: np.ndarray,
    delta: np.ndarray,
    drop_to: np.ndarray,
    floor: int,
    cap: int,
    score: np.ndarray,
    true_score: np.ndarray,
    window: np.ndarray,
    sign: int,
) -> int:
    """Apply (sign=1) or reverse (sign=-1) records; returns the change in the sum of scores.

    `delta[k]` is the signed points of behaviour k (negative for violations).
    """
    total = 0
    for r in range(target.size):
        j = target[r]
        d = sign * delta[kinds[r]]
        old = int(score[j])
        new = min(cap, max(floor, old + d))
        if sign > 0 and drop_to[kinds[r]] != NO_DROP:
            new = min(new, drop_to[kinds[r]])
        score[j] = new
        total += new - old
        if correct[r]:
            t = min(cap, max(floor, int(true_score[j]) + d))
            if sign > 0 and drop_to[kinds[r]] != NO_DROP:
                t = min(t, drop_to[kinds[r]])
            true_score[j] = t
            if sign > 0:
                window[j] |= CORRECT_RECORD | ANY_RECORD
        elif sign > 0:
            window[j] |= ANY_RECORD
    return total


@njit(cache=True, parallel=True)
def _recover_kernel(
    gain: int,
    start: int,
    score: np.ndarray,
    true_score: np.ndarray,
    window: np.ndarray,
    moved: np.ndarray,
) -> int:
    """End of a recovery period: quiet citizens below `start` regain points, up to `start`.

    Marks in `moved` (unless it is empty) whose score or true_score changed, so that
    grades and sanctions can re-examine only them; returns the sum of scores. (Rewards
    can lift a score above start, to the cap; recovery only gives back what was lost.)
    """
    total = 0
    for i in prange(score.size):
        w = window[i]
        regain = (not w & ANY_RECORD) and score[i] < start
        regain_true = (not w & CORRECT_RECORD) and true_score[i] < start
        if regain:
            score[i] = min(start, int(score[i]) + gain)
        if regain_true:
            true_score[i] = min(start, int(true_score[i]) + gain)
        if moved.size > 0:
            moved[i] = regain or regain_true
        window[i] = 0
        total += int(score[i])
    return total


class PointsLedger:
    """Stage 5 (main score): the points ledger and true_score. Owns `score`, `true_score`."""

    name = "score"

    def __init__(self, scenario: Scenario) -> None:
        """Start every citizen at `start` on both scores."""
        s = scenario.scoring
        n = scenario.population.size
        self.start, self.floor, self.cap = s.start, s.floor, s.top
        self.gain, self.every = s.recovery.points, s.recovery.every_days
        dt = score_dtype(self.floor, self.cap)
        self.score = np.full(n, self.start, dtype=dt)
        self.true_score = np.full(n, self.start, dtype=dt)
        self.window = np.zeros(n, dtype=np.uint8)
        cat = scenario.behaviors
        self.delta = np.array(
            [b.points if b.valence == "positive" else -b.points for b in cat.values()],
            dtype=np.int64,
        )
        self.grades = Grades(s.grades, self.score, self.true_score) if s.grades else None
        self.drop_to = np.full(len(cat), NO_DROP, dtype=np.int64)
        for beh, grade in s.drops.items():
            top = self.grades.highs[grade] if self.grades else None
            self.drop_to[list(cat).index(beh)] = math.ceil(top) - 1 if top is not None else NO_DROP
        self.score_sum = n * self.start
        self.track_recovered = self.grades is not None  # the engine may turn it on

    def step(self, day: int, batch: RecordBatch, removed: RecordBatch | None) -> np.ndarray | None:
        """Apply today's records (and reverse removed ones), then recovery if a period ends.

        Returns the ids whose score changed through recovery today (empty on other days);
        with the records' targets, they are everyone whose grade or sanction may change.
        None means a recovery pass ran without listing them: re-examine everyone.
        """
        self.score_sum += _apply_kernel(
            batch.attributed_to,
            batch.behavior,
            batch.correct,
            self.delta,
            self.drop_to,
            self.floor,
            self.cap,
            self.score,
            self.true_score,
            self.window,
            1,
        )
        if removed is not None:
            self.score_sum += _apply_kernel(
                removed.attributed_to,
                removed.behavior,
                removed.correct,
                self.delta,
                self.drop_to,
                self.floor,
                self.cap,
                self.score,
                self.true_score,
                self.window,
                -1,
            )
        recovered = np.empty(0, dtype=np.int32)
        if (day + 1) % self.every == 0:
            # with nothing else keyed on this score (the minimal model), re-examining
            # everyone afterwards is cheaper than listing who regained points
            n = self.score.size if self.track_recovered else 0
            moved = np.empty(n, dtype=np.bool_)
            self.score_sum = _recover_kernel(
                self.gain, self.start, self.score, self.true_score, self.window, moved
            )
            if not self.track_recovered:
                return None
            recovered = np.flatnonzero(moved).astype(np.int32)
        if self.grades is not None:
            self.grades.refresh(batch.attributed_to)
            if removed is not None:
                self.grades.refresh(removed.attributed_to)
            self.grades.refresh(recovered)
        return recovered

    @property
    def bounds(self) -> tuple[float, float]:
        """The lowest and highest possible score (floor, cap)."""
        return float(self.floor), float(self.cap)

    def mean(self) -> float:
        """Mean score over all citizens."""
        return self.score_sum / self.score.size


# ---------------------------------------------------------------------------------------
# Factors score
# ---------------------------------------------------------------------------------------


@njit(cache=True)
def _factor_add(
    target: np.ndarray,
    kinds: np.ndarray,
    correct: np.ndarray,
    weight: np.ndarray,
    kind_dims: np.ndarray,
    n_all: np.ndarray,
    n_true: np.ndarray,
    sign: float,
) -> None:
    """Add (or remove) records' weighted counts to each records dimension."""
    for r in range(target.size):
        j = target[r]
        for d in range(n_all.shape[1]):
            if kind_dims[kinds[r], d]:
                n_all[j, d] = max(0.0, n_all[j, d] + sign * weight[d])
                if correct[r]:
                    n_true[j, d] = max(0.0, n_true[j, d] + sign * weight[d])


@njit(cache=True, parallel=True)
def _factor_recompute(
    n_all: np.ndarray,
    n_true: np.ndarray,
    decay: np.ndarray,
    scale: np.ndarray,
    reward: np.ndarray,
    w_rec: np.ndarray,
    trait: np.ndarray,
    w_trait: np.ndarray,
    lo: float,
    hi: float,
    score: np.ndarray,
    true_score: np.ndarray,
    net_all: np.ndarray,
    net_true: np.ndarray,
    w_net: float,
    offset: float,
) -> float:
    """Decay the counts to today, recompute both scores; returns the mean score."""
    total = 0.0
    for i in prange(score.size):
        s_all = offset
        s_true = offset
        for d in range(n_all.shape[1]):
            n_all[i, d] *= decay[d]
            n_true[i, d] *= decay[d]
            # most people have no such records: exp(0) = 1 without calling exp
            va = math.exp(-n_all[i, d] / scale[d]) if n_all[i, d] > 0 else 1.0
            vt = math.exp(-n_true[i, d] / scale[d]) if n_true[i, d] > 0 else 1.0
            if reward[d]:
                va, vt = 1.0 - va, 1.0 - vt
            s_all += w_rec[d] * va
            s_true += w_rec[d] * vt
        for d in range(trait.shape[0]):
            v = trait[d, i] / 255.0
            s_all += w_trait[d] * v
            s_true += w_trait[d] * v
        if net_all.size > 0:
            s_all += w_net * net_all[i]
            s_true += w_net * net_true[i]
        score[i] = round(lo + (hi - lo) * s_all)
        true_score[i] = round(lo + (hi - lo) * s_true)
        total += score[i]
    return total / max(1, score.size)


def trait_values(propensity: np.ndarray, loading: float, seed: int, index: int) -> np.ndarray:
    """A static per-citizen value in [0, 1] (uint8 0..255) falling with the propensity.

    v = Phi(-loading * z + sqrt(1 - loading^2) * e), z the normal score of the propensity
    rank and e independent noise: loading 0 is unrelated to behaviour, 1 is fully
    determined by it.
    """
    from scipy import special

    n = propensity.size
    ranks = np.empty(n)
    ranks[np.argsort(propensity, kind="stable")] = (np.arange(n) + 0.5) / n
    z = special.ndtri(ranks)
    rng = streams.population_rng(seed, streams.TRAITS, index)
    e = rng.standard_normal(n)
    v = special.ndtr(-loading * z + math.sqrt(max(0.0, 1 - loading**2)) * e)
    return np.round(v * 255).astype(np.uint8)


class FactorsScore:
    """A weighted multi-factor score over named dimensions, recomputed every `every_days`."""

    def __init__(
        self, name: str, policy: FactorsPolicy, scenario: Scenario, propensity: np.ndarray
    ) -> None:
        """Set up dimension state; trait dimensions are drawn once, from the propensity."""
        self.name, self.policy = name, policy
        n = scenario.population.size
        kinds = list(scenario.behaviors)
        rec = {k: d for k, d in policy.dimensions.items() if d.source == "records"}
        traits = {k: d for k, d in policy.dimensions.items() if d.source == "trait"}
        self.kind_dims = np.zeros((len(kinds), max(1, len(rec))), dtype=np.bool_)
        for j, d in enumerate(rec.values()):
            for b in d.behaviors:
                self.kind_dims[kinds.index(b), j] = True
        # citizen-major: one citizen's counts share a cache line (records touch citizens)
        self.n_all = np.zeros((n, len(rec)), dtype=np.float32)
        self.n_true = np.zeros((n, len(rec)), dtype=np.float32)
        self.every = policy.every_days
        self.half_life = np.array([d.half_life_days for d in rec.values()], dtype=np.float64)
        self.scale = np.array([d.scale for d in rec.values()], dtype=np.float64)
        self.reward = np.array(
            [
                bool(d.behaviors)
                and all(scenario.behaviors[b].valence == "positive" for b in d.behaviors)
                for d in rec.values()
            ],
            dtype=np.bool_,
        )
        # value ranges are affine: weight x span multiplies v, weight x low adds a constant
        span = {k: d.value_range[1] - d.value_range[0] for k, d in policy.dimensions.items()}
        self.offset = sum(d.weight * d.value_range[0] for d in policy.dimensions.values())
        self.w_rec = np.array([d.weight * span[k] for k, d in rec.items()], dtype=np.float64)
        self.trait = np.zeros((len(traits), n), dtype=np.uint8)
        for j, d in enumerate(traits.values()):
            self.trait[j] = trait_values(propensity, d.loading, scenario.run.seed, j)
        self.w_trait = np.array([d.weight * span[k] for k, d in traits.items()], dtype=np.float64)
        # relationships: friends' normalised scores (previous recomputation) enter one's own
        self.w_net = sum(
            d.weight * span[k] for k, d in policy.dimensions.items() if d.source == "network"
        )
        self.network: object = None  # set by the engine when the scenario has a graph
        lo, hi = policy.range
        self.lo, self.hi = float(lo), float(hi)
        dt = score_dtype(lo, hi)
        self.score = np.zeros(n, dtype=dt)
        self.true_score = np.zeros(n, dtype=dt)
        self.last = 0
        self._recompute(np.ones(len(rec)), initial=True)
        self.grades = Grades(policy.grades, self.score, self.true_score) if policy.grades else None

    def _recompute(self, decay: np.ndarray, initial: bool) -> None:
        """Decay the record counts by `decay` and recompute both scores."""
        self._mean = _factor_recompute(
            self.n_all,
            self.n_true,
            decay,
            self.scale,
            self.reward,
            self.w_rec,
            self.trait,
            self.w_trait,
            self.lo,
            self.hi,
            self.score,
            self.true_score,
            *self._network_values(initial=initial),
            self.offset,
        )

    def _network_values(self, initial: bool) -> tuple[np.ndarray, np.ndarray, float]:
        """(friends' mean normalised score, the same for true scores, weight).

        Before any score exists (the first computation) everyone's friends count as
        the middle of the range (0.5); people without friends count 0.5 too.
        """
        empty = np.empty(0, dtype=np.float64)
        if self.w_net == 0:
            return empty, empty, 0.0
        n = self.score.size
        if initial or self.network is None:
            half = np.full(n, 0.5)
            return half, half, self.w_net
        # friends' mean score, normalised afterwards (the mean is linear): no float copies
        span = self.hi - self.lo
        m_all, m_true = self.network.neighbour_means(self.score, self.true_score)
        for m in (m_all, m_true):
            m -= self.lo
            m /= span
            m[np.isnan(m)] = 0.5  # people without friends count as the middle
        return m_all, m_true, self.w_net

    def _weights(self, day: int) -> np.ndarray:
        """Weight now of a record appearing on `day`, relative to the last recomputation.

        Counts are stored as of the last recomputation; a record of day t enters with
        weight 2^((t + 1 - last) / half_life) and the whole count is decayed by
        2^(-elapsed / half_life) at the next recomputation, which leaves each record
        decayed exactly by its own age.
        """
        return np.exp((day + 1 - self.last) * math.log(2) / self.half_life)

    def step(self, day: int, batch: RecordBatch, removed: RecordBatch | None) -> None:
        """Count today's records; recompute the scores at the end of each period."""
        if self.n_all.shape[1]:
            _factor_add(
                batch.attributed_to,
                batch.behavior,
                batch.correct,
                self._weights(day),
                self.kind_dims,
                self.n_all,
                self.n_true,
                1.0,
            )
            if removed is not None:
                _factor_add(
                    removed.attributed_to,
                    removed.behavior,
                    removed.correct,
                    self._weights(removed.day),
                    self.kind_dims,
                    self.n_all,
                    self.n_true,
                    -1.0,
                )
        if (day + 1) % self.every == 0:
            elapsed = day + 1 - self.last
            self._recompute(np.exp(-elapsed * math.log(2) / self.half_life), initial=False)
            self.last = day + 1
            if self.grades is not None:
                self.grades.refresh_all()

    @property
    def bounds(self) -> tuple[float, float]:
        """The lowest and highest possible score (the policy's range)."""
        return self.lo, self.hi

    def mean(self) -> float:
        """Mean score at the last recomputation."""
        return float(self._mean)


# ---------------------------------------------------------------------------------------
# Black- and red-lists
# ---------------------------------------------------------------------------------------

NEVER = np.int32(-1)


@njit(cache=True)
def _list_add(
    day: int,
    target: np.ndarray,
    kinds: np.ndarray,
    correct: np.ndarray,
    counts_kind: np.ndarray,
    need: int,
    window: int,
    duration: int,
    exit_p: float,
    seed: int,
    list_id: int,
    recent: np.ndarray,
    recent_true: np.ndarray,
    until: np.ndarray,
    until_true: np.ndarray,
    touched: np.ndarray,
) -> tuple[int, int]:
    """Register qualifying records; list people who reach `need` records in `window` days.

    `recent[j]` holds the days of j's last `need` qualifying records (a ring, -1 empty).
    Early exit: the listing ends on the first day a daily Bernoulli(exit_p) succeeds,
    drawn from a stream keyed by (seed, list, citizen, entry day) so the actual and
    counterfactual listings of the same person on the same day end together.
    Returns (entries, counterfactual entries).
    """
    entries = 0
    entries_true = 0
    m = 0
    for r in range(target.size):
        if not counts_kind[kinds[r]]:
            continue
        j = target[r]
        touched[m] = j
        m += 1
        for which in range(2):
            if which == 1 and not correct[r]:
                break
            ring = recent if which == 0 else recent_true
            until_arr = until if which == 0 else until_true
            # push today's day, dropping the oldest
            for q in range(need - 1, 0, -1):
                ring[j, q] = ring[j, q - 1]
            ring[j, 0] = day
            oldest = ring[j, need - 1]
            if oldest >= 0 and day - oldest <= window and until_arr[j] < day:
                end = day + duration
                if exit_p > 0.0:
                    key = streams.stream_key(seed, streams.LISTS, day, list_id * 2**31 + j)
                    u = streams.uniform(key, np.uint64(0))
                    # geometric number of days until the first exit success
                    k = 1
                    if exit_p < 1.0:
                        k = int(math.floor(math.log(1.0 - u) / math.log(1.0 - exit_p))) + 1  # noqa: RUF046 (Numba)
                    end = min(end, day + k)
                until_arr[j] = end
                if which == 0:
                    entries += 1
                else:
                    entries_true += 1
    return entries, entries_true


@njit(cache=True)
def _list_recheck(
    day: int,
    ids: np.ndarray,
    until: np.ndarray,
    until_true: np.ndarray,
    status: np.ndarray,
    counts: np.ndarray,
) -> None:
    """Re-examine citizens whose listing may have changed today.

    status bits: 1 listed, 2 listed in truth. counts = [listed, listed wrongly, in truth].
    """
    for r in range(ids.size):
        j = ids[r]
        new = np.uint8(0)
        if until[j] > day:
            new |= np.uint8(1)
        if until_true[j] > day:
            new |= np.uint8(2)
        old = status[j]
        if new != old:
            counts[0] += int(new & 1) - int(old & 1)
            counts[1] += int(new == 1) - int(old == 1)
            counts[2] += (int(new & 2) - int(old & 2)) // 2
            status[j] = new


class ListPolicyState:
    """One black- or red-list and its counterfactual (correct records only)."""

    def __init__(self, name: str, list_id: int, policy: ListPolicy, scenario: Scenario) -> None:
        """Allocate the rings of recent qualifying record days and the listing ends."""
        self.name, self.policy, self.list_id = name, policy, list_id
        n = scenario.population.size
        kinds = list(scenario.behaviors)
        self.counts_kind = np.array([k in policy.behaviors for k in kinds], dtype=np.bool_)
        self.recent = np.full((n, policy.count), -1, dtype=np.int32)
        self.recent_true = np.full((n, policy.count), -1, dtype=np.int32)
        self.until = np.full(n, NEVER, dtype=np.int32)
        self.until_true = np.full(n, NEVER, dtype=np.int32)
        self.seed = scenario.run.seed
        self.listed = 0
        self.listed_wrongly = 0
        self.listed_true = 0
        self.status = np.zeros(n, dtype=np.uint8)
        self.counts = np.zeros(3, dtype=np.int64)
        self._ends: dict[int, list[np.ndarray]] = {}
        self.entries = 0
        self.entries_true = 0

    def step(self, day: int, batch: RecordBatch, removed: RecordBatch | None) -> None:
        """Register today's records and count who is listed at the end of the day.

        A record removed on appeal ends a listing that began on or after the record's
        act day (the listing it may have caused); the counterfactual is unaffected.
        Counts change only through entries, scheduled ends and removals, so only those
        citizens are re-examined.
        """
        p = self.policy
        touched = np.empty(len(batch), dtype=np.int32)
        e, et = _list_add(
            day,
            batch.attributed_to,
            batch.behavior,
            batch.correct,
            self.counts_kind,
            p.count,
            p.window_days,
            p.duration_days,
            p.exit_per_day,
            self.seed,
            self.list_id,
            self.recent,
            self.recent_true,
            self.until,
            self.until_true,
            touched,
        )
        self.entries, self.entries_true = e, et
        check = [touched[: int((self.counts_kind[batch.behavior]).sum())]]
        if removed is not None:
            hit = removed.attributed_to[self.counts_kind[removed.behavior]]
            still = self.until[hit] > day
            self.until[hit[still]] = day
            check.append(hit)
        ids = np.concatenate(check) if len(check) > 1 else check[0]
        for arr in (self.until, self.until_true):
            ends = arr[ids]
            for d in np.unique(ends[ends > day]):
                self._ends.setdefault(int(d), []).append(ids[ends == d])
        due = self._ends.pop(day, None)
        if due:
            ids = np.concatenate([ids, *due])
        _list_recheck(day, ids, self.until, self.until_true, self.status, self.counts)
        self.listed, self.listed_wrongly, self.listed_true = (int(x) for x in self.counts)


def build_policies(scenario: Scenario, propensity: np.ndarray | None) -> list:
    """The factors and list policies of a scenario, in declaration order."""
    out: list = []
    for name, pol in scenario.scoring.factors.items():
        assert propensity is not None
        out.append(FactorsScore(name, pol, scenario, propensity))
    for i, (name, lst) in enumerate(scenario.scoring.lists.items()):
        out.append(ListPolicyState(name, i, lst, scenario))
    return out
