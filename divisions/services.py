"""Loading the division tree from the official code tables
(``divisions/data``, the National Bureau of Statistics' codes down to the
township): any set of counties, whole cities or whole provinces, with the
city and province above each county."""

import csv
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction

from common.history import history_record_bulk

from .models import Division

Level = Division.Level


class UnknownDivisionError(ValueError):
    """Codes asked for that the tables do not hold, as ``(level, code)``."""

    def __init__(self, unknown: list[tuple[str, str]]):
        self.unknown = unknown
        super().__init__(
            ", ".join(f"{Division.Level(level).label} {code}" for level, code in unknown)
        )


@dataclass(frozen=True)
class DivisionLoadResult:
    counties: list[Division]
    created: int
    updated: int

    @property
    def county(self) -> Division:
        """The county, when one was loaded."""
        (county,) = self.counties
        return county


@dataclass(frozen=True)
class _Row:
    code: str
    name: str
    level: str
    parent_code: str | None


@functools.cache
def _read_rows(filename: str) -> tuple[dict, ...]:
    path = Path(settings.DIVISIONS_DATA_DIR) / filename
    with path.open(encoding="utf-8", newline="") as handle:
        return tuple(csv.DictReader(handle))


@functools.cache
def _tables() -> dict[str, dict[str, dict]]:
    """Each level's rows by code."""
    return {
        Level.PROVINCE: {row["code"]: row for row in _read_rows("divisions-provinces.csv")},
        Level.CITY: {row["code"]: row for row in _read_rows("divisions-cities.csv")},
        Level.COUNTY: {row["code"]: row for row in _read_rows("divisions-areas.csv")},
    }


@functools.cache
def _townships_by_county() -> dict[str, list[dict]]:
    townships: dict[str, list[dict]] = {}
    for row in _read_rows("divisions-streets.csv"):
        townships.setdefault(row["areaCode"], []).append(row)
    return townships


def _counties_asked(
    counties: Iterable[str], cities: Iterable[str], provinces: Iterable[str]
) -> list[str]:
    """The county codes named, and those of the cities and provinces named;
    every unknown code at once."""
    tables = _tables()
    asked = {Level.COUNTY: counties, Level.CITY: cities, Level.PROVINCE: provinces}
    unknown = [
        (level, code)
        for level, codes in asked.items()
        for code in codes
        if code not in tables[level]
    ]
    if unknown:
        raise UnknownDivisionError(unknown)
    cities, provinces = set(cities), set(provinces)
    return sorted(
        code
        for code, row in tables[Level.COUNTY].items()
        if code in set(counties) or row["cityCode"] in cities or row["provinceCode"] in provinces
    )


def _rows_for(county_codes: list[str]) -> list[_Row]:
    """The rows to load, parents before children."""
    tables = _tables()
    wanted: dict[str, _Row] = {}
    for code in county_codes:
        county = tables[Level.COUNTY][code]
        province = tables[Level.PROVINCE][county["provinceCode"]]
        city = tables[Level.CITY][county["cityCode"]]
        wanted[province["code"]] = _Row(province["code"], province["name"], Level.PROVINCE, None)
        wanted[city["code"]] = _Row(city["code"], city["name"], Level.CITY, province["code"])
        wanted[code] = _Row(code, county["name"], Level.COUNTY, city["code"])
        for township in _townships_by_county().get(code, ()):
            wanted[township["code"]] = _Row(
                township["code"], township["name"], Level.TOWNSHIP, code
            )
    order = list(Level).index
    return sorted(wanted.values(), key=lambda row: (order(row.level), row.code))


@transaction.atomic
def divisions_load(
    *, counties: Iterable[str] = (), cities: Iterable[str] = (), provinces: Iterable[str] = ()
) -> DivisionLoadResult:
    """Load counties with their townships, and the city and province above
    each, from the official code tables: the counties named, every county of
    the cities named and of the provinces named.

    Safe to run again: rows already as in the tables are left untouched, a
    renamed or moved division is updated in place (its code is its identity).
    An unknown code loads nothing (``UnknownDivisionError`` names each one).
    Villages and village groups, entered by the counties, are not touched.
    """
    counties, cities, provinces = list(counties), list(cities), list(provinces)
    county_codes = _counties_asked(counties, cities, provinces)
    rows = _rows_for(county_codes)
    existing = Division.objects.in_bulk([row.code for row in rows], field_name="code")
    created: list[Division] = []
    updated: list[Division] = []
    for level in (Level.PROVINCE, Level.CITY, Level.COUNTY, Level.TOWNSHIP):
        new = []
        for row in (row for row in rows if row.level == level):
            parent = existing[row.parent_code] if row.parent_code else None
            division = existing.get(row.code)
            if division is None:
                division = Division(code=row.code, name=row.name, level=level, parent=parent)
                new.append(division)
            elif (division.name, division.level, division.parent_id) != (
                row.name,
                level,
                parent.pk if parent else None,
            ):
                division.name, division.level, division.parent = row.name, level, parent
                updated.append(division)
            else:
                continue
            # The parent is checked in memory (clean); its row is known to exist.
            division.full_clean(
                exclude=["parent"], validate_unique=False, validate_constraints=False
            )
        for division in Division.objects.bulk_create(new):
            existing[division.code] = division
        created.extend(new)
    if updated:
        Division.objects.bulk_update(updated, ["name", "level", "parent"])
        history_record_bulk(
            Division.objects.filter(pk__in=[d.pk for d in updated]), history_type="~"
        )
    if created:
        history_record_bulk(
            Division.objects.filter(pk__in=[d.pk for d in created]), history_type="+"
        )
    return DivisionLoadResult(
        counties=[existing[code] for code in county_codes],
        created=len(created),
        updated=len(updated),
    )
