"""Sanction: who is punished or rewarded, and what it costs them.

The blacklist (the minimal model's sanction): citizen i is sanctioned while
score_i < threshold, and wrongly sanctioned while also true_score_i >= threshold (the
counterfactual score from correct records only would not have sanctioned them).

The catalog (`sanctions.measures`): travel bans, rental refusals and deposit waivers,
loan rates by grade, exclusion from public-sector jobs, school places and housing,
public naming and rewards, each keyed on a policy's grades, a score range or a list.
Every count is split into deserved and wrongful: wrongful when the counterfactual
policy (correct records only) would not have triggered the measure.

Counts are kept incrementally: each day only the citizens whose score changed are
re-examined, except after a population-wide pass (recovery, recomputation).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

from panopticon import streams
from panopticon.scenario import Scenario
from panopticon.scoring import FactorsScore

SANCTIONED = np.uint8(1)
WRONGLY = np.uint8(2)


@njit(cache=True, inline="always")
def _status(score: float, true_score: float, threshold: float) -> np.uint8:
    """Status bits of one citizen."""
    s = np.uint8(0)
    if score < threshold:
        s |= SANCTIONED
        if true_score >= threshold:
            s |= WRONGLY
    return s


@njit(cache=True)
def _update_touched(
    touched: np.ndarray,
    score: np.ndarray,
    true_score: np.ndarray,
    threshold: float,
    status: np.ndarray,
    counts: np.ndarray,
) -> None:
    """Re-examine the citizens whose score changed today; keep `counts` in step."""
    for r in range(touched.size):
        j = touched[r]
        new = _status(score[j], true_score[j], threshold)
        old = status[j]
        if new != old:
            counts[0] += int(new & SANCTIONED) - int(old & SANCTIONED)
            counts[1] += (int(new & WRONGLY) - int(old & WRONGLY)) // 2
            status[j] = new


@njit(cache=True, parallel=True)
def _update_all(
    score: np.ndarray, true_score: np.ndarray, threshold: float, status: np.ndarray
) -> tuple[int, int]:
    """Re-examine everyone; returns (sanctioned, wrongly sanctioned)."""
    n_s = 0
    n_w = 0
    for i in prange(score.size):
        s = _status(score[i], true_score[i], threshold)
        status[i] = s
        n_s += int(s & SANCTIONED)
        n_w += int(s & WRONGLY) // 2
    return n_s, n_w


class Blacklist:
    """Stage 6: who is sanctioned at the end of the day. Owns `status`."""

    name = "sanction"

    def __init__(self, scenario: Scenario, score: np.ndarray, true_score: np.ndarray) -> None:
        """Examine the starting scores."""
        self.threshold = float(scenario.sanctions.blacklist.threshold)
        self.score, self.true_score = score, true_score
        self.status = np.zeros(score.size, dtype=np.uint8)
        self.counts = np.zeros(2, dtype=np.int64)
        self.counts[:] = _update_all(score, true_score, self.threshold, self.status)

    def step(self, touched: np.ndarray, everyone: bool) -> None:
        """Update status for citizens touched today (or everyone after recovery)."""
        if everyone:
            self.counts[:] = _update_all(self.score, self.true_score, self.threshold, self.status)
        else:
            _update_touched(
                touched, self.score, self.true_score, self.threshold, self.status, self.counts
            )

    def by_group(self, group: np.ndarray, n_groups: int) -> np.ndarray:
        """Citizens sanctioned now, per group (a population-wide pass)."""
        return np.bincount(group[(self.status & SANCTIONED) > 0], minlength=n_groups)

    @property
    def sanctioned(self) -> int:
        """Citizens sanctioned now."""
        return int(self.counts[0])

    @property
    def sanctioned_wrongly(self) -> int:
        """Citizens sanctioned now whose true_score would not sanction them."""
        return int(self.counts[1])


# ---------------------------------------------------------------------------------------
# The catalog of measures: rewards and punishments keyed on grades, scores or lists
# ---------------------------------------------------------------------------------------

TRIGGERED = np.uint8(1)
TRUTH = np.uint8(2)


@njit(cache=True, inline="always")
def _cond(value: float, code: int, below: float, above: float, grade_mask: np.ndarray) -> bool:
    """Whether one score (and its grade code) meets a trigger's conditions."""
    if value >= below or value <= above:
        return False
    if grade_mask.size > 0 and not grade_mask[code]:
        return False
    return True


@njit(cache=True)
def _trigger_status(
    ids: np.ndarray,
    score: np.ndarray,
    true_score: np.ndarray,
    grade: np.ndarray,
    true_grade: np.ndarray,
    below: float,
    above: float,
    grade_mask: np.ndarray,
    status: np.ndarray,
    counts: np.ndarray,
) -> None:
    """Re-examine `ids` (all citizens if ids is empty and status is being rebuilt).

    counts = [triggered, triggered wrongly (not in truth), missed (in truth only)].
    """
    n = ids.size
    for r in range(n):
        i = ids[r]
        g = grade[i] if grade.size > 0 else 0
        t = true_grade[i] if true_grade.size > 0 else 0
        new = np.uint8(0)
        if _cond(score[i], g, below, above, grade_mask):
            new |= TRIGGERED
        if _cond(true_score[i], t, below, above, grade_mask):
            new |= TRUTH
        old = status[i]
        if new != old:
            counts[0] += int(new & TRIGGERED) - int(old & TRIGGERED)
            counts[1] += int(new == TRIGGERED) - int(old == TRIGGERED)
            counts[2] += int(new == TRUTH) - int(old == TRUTH)
            status[i] = new


class ScoreTrigger:
    """A trigger on a score policy, with per-citizen status kept in step with the scores."""

    def __init__(self, trigger: Any, policy: Any) -> None:
        """Classify everyone at the start."""
        self.policy = policy
        # a factors score changes only when it is recomputed (a population-wide pass)
        self.scheduled = isinstance(policy, FactorsScore)
        self.below = trigger.below if trigger.below is not None else np.inf
        self.above = trigger.above if trigger.above is not None else -np.inf
        grades = policy.grades
        if trigger.grades and grades is not None:
            self.mask = np.array([g in trigger.grades for g in grades.names], dtype=np.bool_)
        else:
            self.mask = np.empty(0, dtype=np.bool_)
        n = policy.score.size
        self.status = np.zeros(n, dtype=np.uint8)
        self.counts = np.zeros(3, dtype=np.int64)
        self.refresh(None)

    def _grades(self) -> tuple[np.ndarray, np.ndarray]:
        g = self.policy.grades
        if g is None or self.mask.size == 0:
            empty = np.empty(0, dtype=np.uint8)
            return empty, empty
        return g.grade, g.true_grade

    def refresh(self, touched: np.ndarray | None) -> None:
        """Re-examine the touched citizens (None: everyone)."""
        ids = np.arange(self.status.size, dtype=np.int32) if touched is None else touched
        g, t = self._grades()
        _trigger_status(
            ids,
            self.policy.score,
            self.policy.true_score,
            g,
            t,
            self.below,
            self.above,
            self.mask,
            self.status,
            self.counts,
        )

    def members(self, day: int) -> tuple[np.ndarray, np.ndarray]:
        """(triggered, triggered in truth) as boolean arrays over all citizens."""
        return (self.status & TRIGGERED) > 0, (self.status & TRUTH) > 0

    @property
    def triggered(self) -> int:
        """Citizens triggered now."""
        return int(self.counts[0])

    @property
    def wrongly(self) -> int:
        """Triggered now, but not by the counterfactual (correct-records-only) policy."""
        return int(self.counts[1])

    @property
    def missed(self) -> int:
        """Triggered by the counterfactual policy but not now."""
        return int(self.counts[2])


class ListTrigger:
    """A trigger on list membership (counts come from the list itself)."""

    def __init__(self, policy: Any) -> None:
        """Wrap a list policy's state."""
        self.policy = policy
        self._day = 0

    def refresh(self, touched: np.ndarray | None) -> None:
        """Nothing to do: the list keeps its own counts."""

    def members(self, day: int) -> tuple[np.ndarray, np.ndarray]:
        """(listed, listed in truth) as boolean arrays over all citizens."""
        return self.policy.until > day, self.policy.until_true > day

    @property
    def triggered(self) -> int:
        """Citizens listed now."""
        return int(self.policy.listed)

    @property
    def wrongly(self) -> int:
        """Listed now but not in truth."""
        return int(self.policy.listed_wrongly)

    @property
    def missed(self) -> int:
        """Listed in truth but not now (not tracked incrementally; computed on demand)."""
        return int(self.policy.listed_true) - (int(self.policy.listed) - self.wrongly)


@njit(cache=True)
def _allocation_keys(seed: int, day: int, measure: int, n: int) -> np.ndarray:
    """One uniform key per citizen for a round (lottery keys and tie breaks)."""
    key = streams.stream_key(seed, streams.SANCTIONS, day, 1000 + measure)
    out = np.empty(n, dtype=np.float64)
    for i in range(n):
        out[i] = streams.uniform(key, np.uint64(i))
    return out


def allocate(
    applicants: np.ndarray,
    excluded: np.ndarray,
    score: np.ndarray,
    keys: np.ndarray,
    capacity: int,
    rule: str,
    low: float,
) -> np.ndarray:
    """Ids allocated a place: among non-excluded applicants, by the rule.

    ranked: highest score first, ties by key. weighted_lottery: Efraimidis-Spirakis keys
    u^(1/w) with weight w = score - low + 1. score_blind: by key alone.
    """
    cand = applicants[~excluded[applicants]]
    if cand.size == 0 or capacity <= 0:
        return np.empty(0, dtype=np.int64)
    u = keys[cand]
    if rule == "ranked":
        order = np.lexsort((u, -score[cand].astype(np.float64)))
    elif rule == "weighted_lottery":
        w = np.maximum(score[cand].astype(np.float64) - low + 1.0, 1e-9)
        order = np.argsort(-(np.log(np.maximum(u, 1e-300)) / w), kind="stable")
    else:
        order = np.argsort(u, kind="stable")
    return cand[order[:capacity]]


ACCESS = ("none", "refused", "excluded", "allocated")


class Measures:
    """Stage 6 (catalog): every reward and punishment, its counts, deserved and wrongful."""

    def __init__(
        self,
        scenario: Scenario,
        policies: dict[str, Any],
        age: np.ndarray | None,
        family: Any = None,
    ) -> None:
        """Build one trigger per distinct condition and the state of scarce goods."""
        self.scenario = scenario
        self.measures = scenario.sanctions.measures
        self.policies = policies
        self.age = age
        self.family = family
        self.seed = scenario.run.seed
        self.n = scenario.population.size
        self.triggers: dict[str, Any] = {}
        self._by_key: dict[str, Any] = {}
        for name, m in self.measures.items():
            t = m.trigger
            key = t.model_dump_json()
            if key not in self._by_key:
                pol = policies[t.policy]
                self._by_key[key] = (
                    ScoreTrigger(t, pol) if hasattr(pol, "score") else ListTrigger(pol)
                )
            self.triggers[name] = self._by_key[key]
        self.access = {
            name: np.zeros(self.n, dtype=np.uint8)
            for name, m in self.measures.items()
            if m.kind in ("employment", "school", "housing")
        }
        self.rounds: list[dict[str, Any]] = []

    def columns(self) -> dict[str, type]:
        """The daily columns this catalog adds."""
        cols: dict[str, type] = {}
        for name, m in self.measures.items():
            cols[f"triggered_{name}"] = np.int64
            cols[f"triggered_wrongly_{name}"] = np.int64
            if m.kind in ("travel", "rental"):
                cols[f"blocked_{name}"] = np.int64
                cols[f"blocked_wrongly_{name}"] = np.int64
            elif m.kind == "reward":
                cols[f"granted_{name}"] = np.int64
                cols[f"granted_wrongly_{name}"] = np.int64
            elif m.kind == "naming":
                cols[f"published_{name}"] = np.int64
                cols[f"published_wrongly_{name}"] = np.int64
            elif m.kind == "loan":
                cols[f"extra_interest_{name}"] = np.float64
                cols[f"extra_interest_wrongly_{name}"] = np.float64
            else:
                cols[f"excluded_{name}"] = np.int64
                cols[f"excluded_wrongly_{name}"] = np.int64
                cols[f"lost_wrongly_{name}"] = np.int64
        return cols

    def step(self, day: int, touched: np.ndarray, everyone: set[str]) -> dict[str, float]:
        """Update triggers (touched citizens, or everyone for policies in `everyone`).

        Returns today's values of the catalog's columns.
        """
        for trig in self._by_key.values():
            if isinstance(trig, ScoreTrigger):
                pol_name = next(k for k, v in self.policies.items() if v is trig.policy)
                if pol_name in everyone:
                    trig.refresh(None)
                elif not trig.scheduled:  # a factors score changes only when recomputed
                    trig.refresh(touched)
        key = streams.stream_key(self.seed, streams.SANCTIONS, day, 0)
        out: dict[str, float] = {}
        for idx, (name, m) in enumerate(self.measures.items()):
            trig = self.triggers[name]
            on, wrong = trig.triggered, trig.wrongly
            out[f"triggered_{name}"] = on
            out[f"triggered_wrongly_{name}"] = wrong
            rate = m.attempts_per_year / 365.0
            if m.kind in ("travel", "rental", "reward"):
                deserved = _poisson_np(key, 4 * idx, rate * (on - wrong))
                wrongful = _poisson_np(key, 4 * idx + 2, rate * wrong)
                label = "granted" if m.kind == "reward" else "blocked"
                out[f"{label}_{name}"] = deserved + wrongful
                out[f"{label}_wrongly_{name}"] = wrongful
            elif m.kind == "naming":
                out[f"published_{name}"] = on
                out[f"published_wrongly_{name}"] = wrong
            elif m.kind == "loan":
                out.update(self._loan(name, m))
            else:
                out.update(self._allocation(day, idx, name, m))
        return out

    def _loan(self, name: str, m: Any) -> dict[str, float]:
        """Expected extra interest on today's new loans, and the part due to wrong grades."""
        pol = self.policies[m.trigger.policy]
        g = pol.grades
        out = {f"extra_interest_{name}": 0.0, f"extra_interest_wrongly_{name}": 0.0}
        if g is None:
            return out
        rate = np.array([m.rates.get(x, m.base_rate) for x in g.names])
        per_day = m.loans_per_year / 365.0 * m.principal
        pairs = g.pairs()
        extra = float((pairs.sum(axis=1) * (rate - m.base_rate)).sum()) * per_day
        wrongful = float((pairs * (rate[:, None] - rate[None, :])).sum()) * per_day
        out[f"extra_interest_{name}"] = extra
        out[f"extra_interest_wrongly_{name}"] = wrongful
        return out

    def _allocation(self, day: int, idx: int, name: str, m: Any) -> dict[str, float]:
        """A round of a scarce good, on its schedule; zeros on other days."""
        out = {f"excluded_{name}": 0, f"excluded_wrongly_{name}": 0, f"lost_wrongly_{name}": 0}
        if day < m.first_day or (day - m.first_day) % m.every_days:
            return out
        keys = _allocation_keys(self.seed, day, idx, self.n)
        age = self.age
        eligible = (
            np.ones(self.n, dtype=bool)
            if age is None
            else ((age >= m.ages[0]) & (age <= m.ages[1]))
        )
        apply_keys = _allocation_keys(self.seed, day, 500 + idx, self.n)
        applicants = np.flatnonzero(eligible & (apply_keys < m.apply_share))
        on, truth = self.triggers[name].members(day)
        if m.joint_liability and self.family is not None:
            on = on | self.family.any_other_member(on)
            truth = truth | self.family.any_other_member(truth)
        rank = self.policies[m.rank_policy]
        low = float(getattr(rank, "floor", getattr(rank, "lo", 0.0)))
        capacity = round(m.capacity_share * applicants.size)
        got = allocate(applicants, on, rank.score, keys, capacity, m.rule, low)
        got_true = allocate(applicants, truth, rank.true_score, keys, capacity, m.rule, low)
        blind = allocate(
            applicants, np.zeros(self.n, dtype=bool), rank.score, keys, capacity, "score_blind", low
        )
        access = self.access[name]
        access[:] = 0
        access[applicants] = 1
        access[applicants[on[applicants]]] = 2
        access[got] = 3
        in_got = np.zeros(self.n, dtype=bool)
        in_got[got] = True
        in_true = np.zeros(self.n, dtype=bool)
        in_true[got_true] = True
        excluded = applicants[on[applicants]]
        out[f"excluded_{name}"] = excluded.size
        out[f"excluded_wrongly_{name}"] = int((~truth[excluded]).sum())
        out[f"lost_wrongly_{name}"] = int((in_true & ~in_got).sum())
        self.rounds.append(
            {
                "day": day,
                "measure": name,
                "kind": m.kind,
                "rule": m.rule,
                "applicants": applicants.size,
                "capacity": capacity,
                "excluded": excluded.size,
                "excluded_wrongly": out[f"excluded_wrongly_{name}"],
                "allocated": got.size,
                "lost_wrongly": out[f"lost_wrongly_{name}"],
                "gained_wrongly": int((in_got & ~in_true).sum()),
                "blind_overlap": int(in_got[blind].sum()),
            }
        )
        return out


def _poisson_np(key: np.uint64, counter: int, mean: float) -> int:
    """A Poisson count from the counter-based stream (Python side)."""
    if mean <= 0:
        return 0
    count, _ = streams.poisson(np.uint64(key), np.uint64(counter), float(mean))
    return int(count)
