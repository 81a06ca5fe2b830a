"""The dossier: 800+ named data points per SYNTHETIC citizen, materialised on demand.

A social credit system does not hold a score alone: it holds a file. This package shows
how much such a file holds, for the synthetic citizens of a simulated run only. The
catalog has two kinds of attribute:

* ``procedural`` (`procedural/`, one file per category): generated from the citizen's
  latent traits (propensity) and demographics (age, group, region) with per-attribute
  noise keyed by (seed, attribute name, id). Any value is a pure function of the run's
  seed and the id, so nothing is stored: citizen 5 alone or within a batch of 10,000
  gives the same values.
* ``derived`` (`derived.py`): computed from the run's record log as the *system* sees it
  (records count against ``attributed_to``, wrongful or not) and from the end-state
  columns of ``people.parquet`` that the system knows (`visibility.py`: those its
  modules declare ``truth=False``, never the simulator's truth).

`catalog.py` holds the schema (`Attribute`, categories, windows) and the registry the
generators use; `materialise.py` the entry points; `volume.py` the national estimate.
The command line is `panopticon.cli.dossier`.

Every identifier is synthetic (``SYN-...``); there are no names and no realistic ID
numbers. Nothing here reads data about real people.
"""

from panopticon.dossier.catalog import (
    CATEGORIES,
    MONTHS,
    SIM_YEAR,
    WINDOWS,
    Attribute,
    DossierError,
)
from panopticon.dossier.materialise import (
    catalog,
    check_ids,
    materialise,
    records_note,
    run_catalog,
    sample,
    scenario_of,
)
from panopticon.dossier.procedural import procedural  # the function shadows the subpackage here
from panopticon.dossier.visibility import IDENTITY_COLUMNS, declared_people, people_columns, visible
from panopticon.dossier.volume import BYTES_PER_RECORD, RECORDS_PER_PERSON_YEAR, national_volume

__all__ = [
    "BYTES_PER_RECORD",
    "CATEGORIES",
    "IDENTITY_COLUMNS",
    "MONTHS",
    "RECORDS_PER_PERSON_YEAR",
    "SIM_YEAR",
    "WINDOWS",
    "Attribute",
    "DossierError",
    "catalog",
    "check_ids",
    "declared_people",
    "materialise",
    "national_volume",
    "people_columns",
    "procedural",
    "records_note",
    "run_catalog",
    "sample",
    "scenario_of",
    "visible",
]
