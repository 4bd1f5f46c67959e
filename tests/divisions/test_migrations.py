"""The tree grew a province and a city above each county: a database that
held one county (the single-county releases) keeps every row, and its county
gets its city and province from the official tables."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from divisions.models import Division

BEFORE = [("divisions", "0001_initial")]
AFTER = [("divisions", "0004_only_province_has_no_parent")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture(autouse=True)
def every_migration_applied_after():
    """Going back to divisions 0001 also unapplies the later migrations of
    the apps that depend on it (the county columns); put them all back, so
    that the next test finds the whole schema."""
    yield
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_a_single_county_database_gets_its_city_and_province_and_keeps_every_row():
    old = migrate(BEFORE).get_model("divisions", "Division")
    county = old.objects.create(code="530822", name="墨江哈尼族自治县", level="county")
    township = old.objects.create(code="530822101", name="联珠镇", level="township", parent=county)
    village = old.objects.create(code="530822101001", name="某村", level="village", parent=township)
    # A county the tables do not hold (entered by hand once) is kept too.
    made_up = old.objects.create(code="539901", name="试验县", level="county")

    migrate(AFTER)

    county = Division.objects.get(code="530822")
    assert (county.parent.code, county.parent.name, county.parent.level) == (
        "5308",
        "普洱市",
        "city",
    )
    assert (county.parent.parent.code, county.parent.parent.name) == ("53", "云南省")
    assert Division.objects.get(pk=township.pk).parent_id == county.pk
    assert Division.objects.get(pk=village.pk).parent_id == township.pk
    made_up = Division.objects.get(pk=made_up.pk)
    assert (made_up.parent.code, made_up.parent.name) == ("5399", "5399")
    assert made_up.parent.parent.code == "53"
    assert Division.objects.filter(level="province").count() == 1
    assert Division.objects.filter(parent__isnull=True).get().level == "province"


@pytest.mark.django_db(transaction=True)
def test_going_back_takes_the_cities_and_provinces_away():
    migrate(AFTER)
    province = Division.objects.create(code="53", name="云南省", level="province")
    city = Division.objects.create(code="5308", name="普洱市", level="city", parent=province)
    Division.objects.create(code="530822", name="墨江哈尼族自治县", level="county", parent=city)

    old = migrate(BEFORE).get_model("divisions", "Division")
    assert list(old.objects.values_list("code", "parent")) == [("530822", None)]
    migrate(AFTER)
