"""A slow, obvious implementation of the minimal model, for checks and benchmarks.

This is what a scientist would write first: every citizen gets a Poisson draw every
day, and every rule is a whole-population NumPy expression. It shares no code with the
engine beyond the scenario, so agreement between the two is evidence that both
implement `shared/models/minimal.md` as written. It returns the same daily columns.
"""

from __future__ import annotations

import numpy as np

from panopticon.scenario.schema import Scenario


def run_reference(scenario: Scenario) -> dict[str, np.ndarray]:
    """Run the minimal model day by day over whole arrays; returns columns and end state."""
    if len(scenario.behaviors) != 1:
        raise ValueError("the reference implements the minimal model: one behaviour")
    beh = next(iter(scenario.behaviors.values()))
    if not isinstance(beh.rate, float | int):
        raise ValueError("the reference implements the minimal model: a constant rate")
    n, days = scenario.population.size, scenario.run.days
    rng = np.random.default_rng(scenario.run.seed)
    shape = scenario.population.propensity.shape
    lam = rng.gamma(shape, beh.rate / shape, size=n)
    cov = scenario.surveillance.camera.coverage if scenario.surveillance.camera.enabled else 0.0
    p_miss, p_wrong = scenario.surveillance.faceid.p_miss, scenario.surveillance.faceid.p_wrong
    sc = scenario.scoring
    start, floor, gain, every = sc.start, sc.floor, sc.recovery.points, sc.recovery.every_days
    threshold = scenario.sanctions.blacklist.threshold
    det, det_floor = scenario.response.deterrence, scenario.response.deterrence_floor

    score = np.full(n, start, dtype=np.int64)
    true_score = np.full(n, start, dtype=np.int64)
    d = np.ones(n)
    committed = np.zeros(n, dtype=np.int64)
    rec_correct = np.zeros(n, dtype=np.int64)
    rec_wrong = np.zeros(n, dtype=np.int64)
    any_window = np.zeros(n, dtype=bool)
    correct_window = np.zeros(n, dtype=bool)
    cols = {
        k: np.zeros(days)
        for k in (
            "committed",
            "observed",
            "missed",
            "attributed_correct",
            "attributed_wrong",
            "sanctioned",
            "sanctioned_wrongly",
            "mean_score",
        )
    }
    ids = np.arange(n)
    for t in range(days):
        v = rng.poisson(lam * d)
        seen = rng.binomial(v, cov)
        missed = rng.binomial(seen, p_miss)
        wrong = rng.binomial(seen - missed, p_wrong / (1.0 - p_miss) if p_miss < 1 else 0.0)
        right = seen - missed - wrong
        perpetrators = np.repeat(ids, wrong)
        others = rng.integers(0, n - 1, size=perpetrators.size) if n > 1 else perpetrators
        others = others + (others >= perpetrators)
        wrong_against = np.bincount(others, minlength=n)
        records = right + wrong_against
        score = np.maximum(floor, score - beh.points * records)
        true_score = np.maximum(floor, true_score - beh.points * right)
        d = np.maximum(det_floor, d * det**records)
        any_window |= records > 0
        correct_window |= right > 0
        committed += v
        rec_correct += right
        rec_wrong += wrong_against
        if (t + 1) % every == 0:
            score = np.where(any_window, score, np.minimum(start, score + gain))
            true_score = np.where(correct_window, true_score, np.minimum(start, true_score + gain))
            any_window[:] = False
            correct_window[:] = False
        sanctioned = score < threshold
        cols["committed"][t] = v.sum()
        cols["observed"][t] = seen.sum()
        cols["missed"][t] = missed.sum()
        cols["attributed_correct"][t] = right.sum()
        cols["attributed_wrong"][t] = wrong.sum()
        cols["sanctioned"][t] = sanctioned.sum()
        cols["sanctioned_wrongly"][t] = (sanctioned & (true_score >= threshold)).sum()
        cols["mean_score"][t] = score.mean()
    cols.update(
        score=score,
        true_score=true_score,
        committed_per_citizen=committed,
        records_correct=rec_correct,
        records_wrong=rec_wrong,
    )
    _ = ids
    return cols
