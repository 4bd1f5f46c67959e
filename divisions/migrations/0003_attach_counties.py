import csv
from pathlib import Path

from django.db import migrations

# Each county already loaded gets its city and province from the official
# tables (divisions/data), so that no county is left without a parent.

DATA = Path(__file__).resolve().parent.parent / "data"


def _table(filename):
    with (DATA / filename).open(encoding="utf-8", newline="") as handle:
        return {row["code"]: row for row in csv.DictReader(handle)}


def attach_counties(apps, schema_editor):
    Division = apps.get_model("divisions", "Division")
    counties = list(Division.objects.filter(level="county", parent__isnull=True))
    if not counties:
        return
    provinces = _table("divisions-provinces.csv")
    cities = _table("divisions-cities.csv")
    areas = _table("divisions-areas.csv")

    def division(code, level, names, parent):
        row = names.get(code)
        found, _ = Division.objects.get_or_create(
            code=code,
            defaults={"name": row["name"] if row else code, "level": level, "parent": parent},
        )
        return found

    for county in counties:
        # A county the tables do not hold still has a province and city in
        # its first digits.
        row = areas.get(county.code, {})
        province_code = row.get("provinceCode", county.code[:2])
        city_code = row.get("cityCode", county.code[:4])
        province = division(province_code, "province", provinces, None)
        county.parent = division(city_code, "city", cities, province)
        county.save(update_fields=["parent"])


def detach_counties(apps, schema_editor):
    Division = apps.get_model("divisions", "Division")
    Division.objects.filter(level="county").update(parent=None)
    Division.objects.filter(level="city").delete()
    Division.objects.filter(level="province").delete()



class Migration(migrations.Migration):

    dependencies = [
        ("divisions", "0002_province_and_city"),
    ]

    operations = [
        migrations.RunPython(attach_counties, detach_counties),
    ]
