"""Face identification, modelled by its error rates (never by images).

A seen act is searched against the gallery of enrolled faces. The outcome is one of
three: the search is *missed* (no candidate at or above threshold), it names the
*wrong* person (a false match; the record lands on an innocent citizen), or it names
the right person. The `fixed` mode takes these rates directly, as the minimal model does.

The `scores` mode derives the three rates from first principles. Each comparison of a
probe with one enrolled template gives a similarity score: *genuine* (same person) or
*impostor* (different people). A 1:N search against a gallery of G templates returns the
best-scoring candidate if it is at or above the threshold t. With the genuine score
distribution (per image-quality class and demographic group), the impostor distribution
and G, the outcome probabilities follow analytically:

- enrolled person (mate plus G-1 impostors): ``p_correct``, ``p_wrong``, ``p_miss``;
- person not enrolled (G impostors): ``fpir = 1 - (1 - FMR(t))**G``.

A demographic group's FMR multiplier acts on impostors of its own group only (NISTIR
8280 measures differentials on same-demographic pairs); the gallery holds the groups in
their shares, and a false match names the probe's group with q = m s / (m s + 1 - s).

Nothing here looks at a face: scores are numbers drawn from distributions, calibrated to
published NIST operating points (see ``docs/faceid.md``). The parts:

- `model`: score distributions, quality classes, groups, `FaceIdScores` and its rate
  table, and `identify_fixed`, the engine's outcome draw;
- `quadrature`: the analytic 1:N rates, in log space for galleries up to 1e10;
- `thresholds`: the threshold for a target FPIR or hit rate;
- `nist`: the published operating points and the source article's claims;
- `calibration`: the default model and the fit of its constants to `nist`;
- `cost`: the hardware an exhaustive search needs;
- `checks`: `FaceIdError` and the argument checks.

The outcome codes MISSED, WRONG and CORRECT (defined in `panopticon.core.records`) are
exported too: `identify_fixed` returns them and they index `RateTable.enrolled`.
The command line is `panopticon.cli.faceid`, its plot `panopticon.report.faceid_plots`.
"""

from panopticon.core.records import CORRECT, MISSED, WRONG
from panopticon.stages.identify.faceid.calibration import (
    DEFAULT_GENUINE_MEAN,
    DEFAULT_GENUINE_SD,
    DEFAULT_THRESHOLD,
    calibrate_defaults,
    calibrate_genuine_mean,
    default_model,
)
from panopticon.stages.identify.faceid.checks import FaceIdError
from panopticon.stages.identify.faceid.cost import (
    DEFAULT_SEARCHES_PER_DAY,
    SearchCost,
    SearchHardware,
    search_cost,
)
from panopticon.stages.identify.faceid.model import (
    FaceIdScores,
    Group,
    IdentificationRates,
    QualityClass,
    RateTable,
    ScoreDistribution,
    cache_info,
    clear_cache,
    identify_fixed,
)
from panopticon.stages.identify.faceid.nist import (
    CLAIM_GALLERY,
    CLAIM_HIT_RATE,
    CLAIM_LATENCY_S,
    NIST_BORDER_FNIR,
    NIST_BORDER_GALLERY,
    NIST_FIVE_FNIR,
    NIST_FIVE_GALLERY,
    NIST_FPIR,
    NIST_MUGSHOT_FNIR,
    NIST_MUGSHOT_GALLERY,
)
from panopticon.stages.identify.faceid.thresholds import (
    threshold_for_fpir,
    threshold_for_hit_rate,
)

__all__ = [
    "CLAIM_GALLERY",
    "CLAIM_HIT_RATE",
    "CLAIM_LATENCY_S",
    "CORRECT",
    "DEFAULT_GENUINE_MEAN",
    "DEFAULT_GENUINE_SD",
    "DEFAULT_SEARCHES_PER_DAY",
    "DEFAULT_THRESHOLD",
    "MISSED",
    "NIST_BORDER_FNIR",
    "NIST_BORDER_GALLERY",
    "NIST_FIVE_FNIR",
    "NIST_FIVE_GALLERY",
    "NIST_FPIR",
    "NIST_MUGSHOT_FNIR",
    "NIST_MUGSHOT_GALLERY",
    "WRONG",
    "FaceIdError",
    "FaceIdScores",
    "Group",
    "IdentificationRates",
    "QualityClass",
    "RateTable",
    "ScoreDistribution",
    "SearchCost",
    "SearchHardware",
    "cache_info",
    "calibrate_defaults",
    "calibrate_genuine_mean",
    "clear_cache",
    "default_model",
    "identify_fixed",
    "search_cost",
    "threshold_for_fpir",
    "threshold_for_hit_rate",
]
