"""Loading the division tree from the official code tables
(``divisions/data``, the National Bureau of Statistics' county and township
codes)."""

import csv
import functools
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction

from .models import Division


class UnknownCountyError(ValueError):
    pass


@dataclass(frozen=True)
class DivisionLoadResult:
    county: Division
    created: int
    updated: int


@functools.cache
def _read_rows(filename: str) -> tuple[dict, ...]:
    path = Path(settings.DIVISIONS_DATA_DIR) / filename
    with path.open(encoding="utf-8", newline="") as handle:
        return tuple(csv.DictReader(handle))


def _upsert(*, code: str, name: str, level: str, parent: Division | None) -> tuple[Division, str]:
    division = Division.objects.filter(code=code).first()
    if division is None:
        division = Division(code=code, name=name, level=level, parent=parent)
        outcome = "created"
    elif (division.name, division.level, division.parent_id) == (
        name,
        level,
        parent.pk if parent else None,
    ):
        return division, "unchanged"
    else:
        division.name, division.level, division.parent = name, level, parent
        outcome = "updated"
    division.full_clean()
    division.save()
    return division, outcome


@transaction.atomic
def divisions_load_county(*, county_code: str) -> DivisionLoadResult:
    """Load a county and its townships from the official code tables.

    Safe to run again: rows already as in the tables are left untouched, a
    renamed township is updated in place (its code is its identity).
    """
    county_row = next(
        (row for row in _read_rows("divisions-areas.csv") if row["code"] == county_code), None
    )
    if county_row is None:
        raise UnknownCountyError(county_code)
    county, outcome = _upsert(
        code=county_code, name=county_row["name"], level=Division.Level.COUNTY, parent=None
    )
    outcomes = [outcome]
    for row in _read_rows("divisions-streets.csv"):
        if row["areaCode"] == county_code:
            _, outcome = _upsert(
                code=row["code"], name=row["name"], level=Division.Level.TOWNSHIP, parent=county
            )
            outcomes.append(outcome)
    return DivisionLoadResult(
        county=county, created=outcomes.count("created"), updated=outcomes.count("updated")
    )
