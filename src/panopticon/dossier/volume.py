"""What such a system holds for a whole nation: the dossier catalog plus the record log."""

from __future__ import annotations

from collections.abc import Sequence

from panopticon.dossier.catalog import Attribute
from panopticon.dossier.materialise import catalog
from panopticon.scenario.io import load as load_scenario

RECORDS_PER_PERSON_YEAR = 3.5  # city-pilot preset: 348,655 records, 100,000 citizens, 365 days
BYTES_PER_RECORD = 20  # day, day recorded, behaviour, person, channel, appeal (uncompressed)


def national_volume(
    population: float = 1.4e9,
    records_per_person_year: float = RECORDS_PER_PERSON_YEAR,
    bytes_per_record: float = BYTES_PER_RECORD,
    attributes: Sequence[Attribute] | None = None,
    years: int = 10,
) -> dict[str, float]:
    """Bytes such a system holds for a nation: the dossier catalog plus the record log.

    `attributes` defaults to the city-pilot catalog. Figures are uncompressed values
    only: no evidence images, no indexes, no copies.
    """
    if attributes is None:
        attributes = catalog(load_scenario("city-pilot"))
    per_person = float(sum(a.nbytes for a in attributes))
    dossier = per_person * population
    log_year = population * records_per_person_year * bytes_per_record
    return {
        "population": float(population),
        "attributes": float(len(attributes)),
        "values": float(len(attributes)) * population,
        "bytes_per_person": per_person,
        "dossier_bytes": dossier,
        "records_per_year": population * records_per_person_year,
        "record_log_bytes_per_year": log_year,
        "years": float(years),
        "total_bytes": dossier + years * log_year,
    }
