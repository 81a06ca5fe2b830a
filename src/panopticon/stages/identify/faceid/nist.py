"""Published operating points and the source article's claims, each with its source.

The defaults of the score model are fitted to these (`calibration`); the sources are
cited in ``reference/calibration.md``, section 6, and ``docs/faceid.md``.
"""

#: NIST FRTE 1:N headline operating point: FNIR is reported at FPIR = 0.003.
NIST_FPIR = 0.003
#: FRTE 1:N January 2024: best mugshot result, FNIR 0.12% (99.88%) at N = 12 M, FPIR 0.003.
NIST_MUGSHOT_GALLERY = 12e6
NIST_MUGSHOT_FNIR = 0.0012
#: Secondary note (UNCONFIRMED): top FNIR 2-5% on border-crossing images at FPIR 0.003;
#: we match the midpoint. The border gallery size is not in the available text: 12 M assumed.
NIST_BORDER_FNIR = 0.035
NIST_BORDER_GALLERY = 12e6
#: NIST FIVE (2017): better algorithms identified "around 60 percent" to "more than 99
#: percent" from video, galleries up to 48,000. We match the 60% end (surveillance
#: frames: subjects not looking at the camera); FPIR 0.003 is an assumption.
NIST_FIVE_FNIR = 0.40
NIST_FIVE_GALLERY = 48_000.0
#: The source article: 1.3 billion ID photos, "90 per cent" hit-rate target (no FPIR given).
CLAIM_GALLERY = 1.3e9
CLAIM_HIT_RATE = 0.90
#: "Identify any of 1.3 bn citizens within 3 seconds" (SCMP 2017): the latency target.
CLAIM_LATENCY_S = 3.0
