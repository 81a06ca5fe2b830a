"""Figures of the face identification model: error rates against gallery size.

Drawn with matplotlib (Agg backend) to a PNG, for `panopticon faceid --plot`. The rates
come from `panopticon.stages.identify.faceid`; nothing here looks at a face.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from panopticon.stages.identify.faceid import FaceIdScores


def plot_rates_vs_gallery(
    model: FaceIdScores,
    path: str,
    quality: str | Mapping[str, float],
    group: str | Mapping[str, float] | None = None,
    thresholds: list[float] | None = None,
) -> None:
    """Draw FNIR, p_wrong and FPIR against gallery size 1e3..1e10 (log x) to a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if thresholds is None:
        thresholds = [model.impostor.isf(p) for p in (1e-6, 1e-8, 1e-10, 1e-12)]
    galleries = np.logspace(3, 10, 43)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.5), sharex=True)
    for i, t in enumerate(thresholds):
        rs = [model.rates(float(g), t, quality, group) for g in galleries]
        colour = f"C{i}"
        label = f"t = {t:.2f} (reference FMR {model.impostor.sf(t):.1e})"
        ax1.plot(galleries, [r.fnir for r in rs], color=colour, label=label)
        ax1.plot(galleries, [r.p_wrong for r in rs], color=colour, linestyle=":")
        ax2.plot(galleries, [r.fpir for r in rs], color=colour, label=label)
    ax1.set_title("enrolled: FNIR (solid), innocent named (dotted)")
    ax2.set_title("not enrolled: FPIR (someone named)")
    for ax in (ax1, ax2):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(1e-6, 1.5)
        ax.set_xlabel("gallery size G")
        ax.grid(True, which="major", alpha=0.3)
    ax1.set_ylabel("rate per search")
    ax2.legend(fontsize=8, loc="lower right")
    fig.suptitle(f"1:N identification error model, quality {quality}, group {group or 'all'}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
