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

from panopticon.core import streams
from panopticon.scenario.schema import Scenario
from panopticon.stages.score.scoring import FactorsScore

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

MAX_TRIGGERS = 16  # per score policy: 2 status bits each in one uint32 per citizen


@njit(cache=True)
def _trigger_status(
    ids: np.ndarray,
    score: np.ndarray,
    true_score: np.ndarray,
    grade: np.ndarray,
    true_grade: np.ndarray,
    below: np.ndarray,
    above: np.ndarray,
    grade_bits: np.ndarray,
    status: np.ndarray,
    counts: np.ndarray,
) -> None:
    """Re-examine `ids` against every trigger of one policy, in one pass.

    Trigger t holds for a score s in grade g when above[t] < s < below[t] and bit g of
    grade_bits[t] is set (all bits set when it names no grades). status[i] holds 2 bits
    per trigger (bit 2t: triggered, bit 2t+1: in truth); counts[t] = [triggered,
    triggered wrongly (not in truth), missed (in truth only)].
    """
    n_t = below.size
    use_grades = grade.size > 0
    for r in range(ids.size):
        i = ids[r]
        g = np.int64(grade[i]) if use_grades else 0
        tg = np.int64(true_grade[i]) if use_grades else 0
        s_val = np.float64(score[i])
        t_val = np.float64(true_score[i])
        old_all = np.int64(status[i])  # bit arithmetic in int64: no unsigned promotions
        new_all = np.int64(0)
        for t in range(n_t):
            new = 0
            if above[t] < s_val < below[t] and (grade_bits[t] >> g) & 1:
                new = 1
            if above[t] < t_val < below[t] and (grade_bits[t] >> tg) & 1:
                new |= 2
            new_all |= new << (2 * t)
        if new_all != old_all:
            for t in range(n_t):
                new = (new_all >> (2 * t)) & 3
                old = (old_all >> (2 * t)) & 3
                if new != old:
                    counts[t, 0] += (new & 1) - (old & 1)
                    counts[t, 1] += int(new == 1) - int(old == 1)
                    counts[t, 2] += int(new == 2) - int(old == 2)
            status[i] = new_all


class ScoreTriggers:
    """Every trigger on one score policy, kept in step with its scores in one pass.

    A trigger is a set of conditions (grades, below, above); its per-citizen status is
    2 bits of one uint32 per citizen, so re-examining a citizen touches one word.
    """

    def __init__(self, policy: Any) -> None:
        """Start with no triggers; `add` them, then `refresh(None)`."""
        self.policy = policy
        # a factors score changes only when it is recomputed (a population-wide pass)
        self.scheduled = isinstance(policy, FactorsScore)
        self.conditions: list[Any] = []
        self.status = np.zeros(policy.score.size, dtype=np.uint32)
        self.counts = np.zeros((0, 3), dtype=np.int64)

    def add(self, trigger: Any) -> int:
        """Register a trigger's conditions; returns its index."""
        if len(self.conditions) == MAX_TRIGGERS:
            raise ValueError(f"at most {MAX_TRIGGERS} distinct triggers per score policy")
        self.conditions.append(trigger)
        names = self.policy.grades.names if self.policy.grades is not None else []
        self.below = np.array([t.below if t.below is not None else np.inf for t in self.conditions])
        self.above = np.array(
            [t.above if t.above is not None else -np.inf for t in self.conditions]
        )
        if len(names) > 62:
            raise ValueError(f"{len(names)} grades: measures support at most 62 per policy")
        # one bit per grade code; a trigger naming no grades allows them all
        self.grade_bits = np.array(
            [
                sum(1 << k for k, g in enumerate(names) if g in t.grades) if t.grades else -1
                for t in self.conditions
            ],
            dtype=np.int64,
        )
        self.use_grades = bool(names) and any(t.grades for t in self.conditions)
        self.counts = np.zeros((len(self.conditions), 3), dtype=np.int64)
        return len(self.conditions) - 1

    def refresh(self, touched: np.ndarray | None) -> None:
        """Re-examine the touched citizens (None: everyone)."""
        ids = np.arange(self.status.size, dtype=np.int32) if touched is None else touched
        g = self.policy.grades
        empty = np.empty(0, dtype=np.uint8)
        grade, true_grade = (g.grade, g.true_grade) if self.use_grades else (empty, empty)
        _trigger_status(
            ids,
            self.policy.score,
            self.policy.true_score,
            grade,
            true_grade,
            self.below,
            self.above,
            self.grade_bits,
            self.status,
            self.counts,
        )


class ScoreTrigger:
    """One trigger of a `ScoreTriggers` set: its members and counts."""

    def __init__(self, group: ScoreTriggers, index: int) -> None:
        """A view on trigger `index` of `group`."""
        self.group, self.index = group, index
        self.policy = group.policy

    def members(self, day: int) -> tuple[np.ndarray, np.ndarray]:
        """(triggered, triggered in truth) as boolean arrays over all citizens."""
        bits = self.group.status >> np.uint32(2 * self.index)
        return (bits & 1) > 0, (bits & 2) > 0

    @property
    def triggered(self) -> int:
        """Citizens triggered now."""
        return int(self.group.counts[self.index, 0])

    @property
    def wrongly(self) -> int:
        """Triggered now, but not by the counterfactual (correct-records-only) policy."""
        return int(self.group.counts[self.index, 1])

    @property
    def missed(self) -> int:
        """Triggered by the counterfactual policy but not now."""
        return int(self.group.counts[self.index, 2])


class ListTrigger:
    """A trigger on list membership (counts come from the list itself)."""

    def __init__(self, policy: Any) -> None:
        """Wrap a list policy's state."""
        self.policy = policy

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
        self.groups: dict[str, ScoreTriggers] = {}
        by_key: dict[str, Any] = {}
        for name, m in self.measures.items():
            t = m.trigger
            key = t.model_dump_json()
            if key not in by_key:
                pol = policies[t.policy]
                if hasattr(pol, "score"):
                    group = self.groups.setdefault(t.policy, ScoreTriggers(pol))
                    by_key[key] = ScoreTrigger(group, group.add(t))
                else:
                    by_key[key] = ListTrigger(pol)
            self.triggers[name] = by_key[key]
        for group in self.groups.values():
            group.refresh(None)
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
        for pol_name, group in self.groups.items():
            if pol_name in everyone:
                group.refresh(None)
            elif not group.scheduled:  # a factors score changes only when recomputed
                group.refresh(touched)
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
        low = rank.bounds[0]
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
