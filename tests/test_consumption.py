"""The consumption measure kind (SPC high-consumption restrictions), added as one new file.

Blocked attempts per item are Poisson with mean rate x (1 - leak) x person-days listed;
the tolerance is Z = 5 standard errors of that Poisson count.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import panopticon as pn

# documented's dated court rates held flat: schedule dates must lie within a shortened run
SHORT = ["sanctions.court.perform_share=0.5", "sanctions.court.listing_per_year=1.0"]

Z = 5.0
LISTED = [  # many listings at a small size: everyone recorded for fare evasion is listed
    # a behaviour-driven list (documented's court list is a mechanism without records, so
    # nobody is on it wrongly): wrongful records give wrongful listings and blocks
    'scoring.lists.court_blacklist={behaviors=["fare_evasion"], duration_days=730}',
    'sanctions.measures.high_consumption.trigger={policy="court_blacklist"}',
    *SHORT,
    'surveillance.faceid={mode="fixed", p_miss=0.1, p_wrong=0.1}',
]


def test_blocked_attempts_follow_rate_leak_and_exposure(tmp_path: Path) -> None:
    sets = [
        *LISTED,
        "sanctions.measures.high_consumption.options.leak_share=0.25",
        "sanctions.measures.high_consumption.options.items={hotel=36.5, exit=3.65}",
    ]
    run = pn.run(
        pn.load("documented", sets, population=20_000, days=60, seed=4), out=tmp_path / "c"
    )
    ts = run.timeseries
    person_days = float(ts["triggered_high_consumption"].sum())
    wrong_days = float(ts["triggered_wrongly_high_consumption"].sum())
    assert person_days > 1000 and wrong_days > 10
    for item, per_day in (("hotel", 0.1), ("exit", 0.01)):
        mean = per_day * 0.75 * person_days
        got = float(ts[f"blocked_high_consumption_{item}"].sum())
        assert abs(got - mean) < Z * math.sqrt(mean), item
        mean_w = per_day * 0.75 * wrong_days
        got_w = float(ts[f"blocked_wrongly_high_consumption_{item}"].sum())
        assert abs(got_w - mean_w) < Z * math.sqrt(mean_w + 1), item
    leak = 0.25 * (0.1 + 0.01) * person_days
    assert abs(float(ts["leaked_high_consumption"].sum()) - leak) < Z * math.sqrt(leak)
    # declared: the columns reach the manifest's outputs and totals
    assert run.manifest["outputs"]["timeseries"]["blocked_high_consumption_hotel"]["headline"]
    assert "blocked_high_consumption_exit" in run.totals


@pytest.mark.parametrize(
    ("sets", "field"),
    [
        (["sanctions.measures.high_consumption.options.items.hotel=-1"], "items.hotel"),
        (["sanctions.measures.high_consumption.options.leak_share=2"], "leak_share"),
        (["sanctions.measures.high_consumption.options.colour=1"], "colour"),
        (['sanctions.measures.flight_ban.kind="bogus"'], "flight_ban.kind"),
        (["sanctions.measures.flight_ban.options.x=1"], "flight_ban"),
    ],
)
def test_bad_options_name_the_field(sets: list[str], field: str) -> None:
    with pytest.raises(pn.ScenarioError) as err:
        pn.load("documented", sets, population=1000)
    assert field in str(err.value)


class _Trigger:
    triggered = 20_000
    wrongly = 10_000


class _Day:
    def __init__(self, day: int) -> None:
        self.day = day


def test_deserved_and_wrongful_counts_are_independent() -> None:
    """Each Poisson count has its own stream: deserved and wrongful blocks uncorrelated.

    They once drew from one stream at counters 4i and 4i+2, so a count of mean m reused
    the other's draws (correlation near 1). With means ~40 and ~20 over 3,000 days the
    sample correlation of independent counts has standard error 1/sqrt(3000) ~ 0.018.
    """
    import numpy as np

    sc = pn.load("seed-article", population=2000, days=3)
    sim = pn.Simulation(sc)
    kinds = next(m for m in sim.plan if hasattr(m, "kinds")).kinds
    flight, hsr = kinds["flight_ban"], kinds["hsr_ban"]
    flight.trigger = hsr.trigger = _Trigger()
    rows = []
    for d in range(3000):
        f = flight.values(_Day(d), np.uint64(0))
        h = hsr.values(_Day(d), np.uint64(0))
        wrong_f, wrong_h = f["blocked_wrongly_flight_ban"], h["blocked_wrongly_hsr_ban"]
        rows.append((f["blocked_flight_ban"] - wrong_f, wrong_f, h["blocked_hsr_ban"] - wrong_h))
    x = np.array(rows, dtype=float)
    mean_per_day = flight.per_year.at(0) / 365 * 10_000
    assert abs(x[:, 1].mean() - mean_per_day) < 4 * math.sqrt(mean_per_day / 3000)
    r = np.corrcoef(x.T)
    bound = 4 / math.sqrt(3000)
    assert abs(r[0, 1]) < bound  # deserved vs wrongful of one measure
    assert abs(r[0, 2]) < bound  # one measure's count vs the next measure's
