import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from divisions.models import Division
from divisions.services import UnknownDivisionError, divisions_load

MOJIANG_TOWNSHIPS = {
    "530822101": "联珠镇",
    "530822102": "通关镇",
    "530822103": "龙坝镇",
    "530822104": "新安镇",
    "530822105": "团田镇",
    "530822106": "新抚镇",
    "530822107": "景星镇",
    "530822108": "鱼塘镇",
    "530822109": "文武镇",
    "530822110": "坝溜镇",
    "530822111": "泗南江镇",
    "530822112": "雅邑镇",
    "530822203": "孟弄彝族乡",
    "530822208": "龙潭乡",
    "530822212": "那哈乡",
}


@pytest.mark.django_db
def test_the_loader_brings_mojiang_its_fifteen_townships_and_the_city_and_province_above():
    result = divisions_load(counties=["530822"])
    county = result.county
    assert county.name == "墨江哈尼族自治县"
    assert result.created == 18  # 云南省, 普洱市, 墨江, 15 townships
    townships = dict(Division.objects.townships().values_list("code", "name"))
    assert townships == MOJIANG_TOWNSHIPS
    assert set(Division.objects.townships().values_list("parent", flat=True)) == {county.pk}
    city = county.parent
    assert (city.code, city.name, city.level) == ("5308", "普洱市", "city")
    province = county.parent.parent
    assert (province.code, province.name, province.level) == ("53", "云南省", "province")
    assert province.parent is None


@pytest.mark.django_db
def test_loading_again_changes_nothing():
    divisions_load(counties=["530822"])
    before = list(Division.objects.values_list("pk", "code", "name", "parent_id"))
    again = divisions_load(counties=["530822"])
    assert (again.created, again.updated) == (0, 0)
    assert list(Division.objects.values_list("pk", "code", "name", "parent_id")) == before
    assert Division.history.count() == 18  # one "created" row each, nothing since


@pytest.mark.django_db
def test_a_renamed_township_is_restored_in_place_and_the_change_is_recorded():
    divisions_load(counties=["530822"])
    Division.objects.filter(code="530822103").update(name="旧名")
    result = divisions_load(counties=["530822"])
    assert (result.created, result.updated) == (0, 1)
    assert Division.objects.get(code="530822103").name == "龙坝镇"
    latest = Division.history.filter(code="530822103").latest()
    assert (latest.history_type, latest.name) == ("~", "龙坝镇")


@pytest.mark.django_db
def test_a_whole_city_loads_every_county_under_it_once():
    divisions_load(counties=["530822"])
    result = divisions_load(cities=["5308"])  # 普洱市: 1 district and 9 counties
    codes = [county.code for county in result.counties]
    assert codes == sorted(codes) and len(codes) == 10 and "530822" in codes
    assert all(county.parent.code == "5308" for county in result.counties)
    assert Division.objects.filter(level="city").count() == 1
    assert Division.objects.filter(level="province").count() == 1
    # Mojiang was there already: only the nine others and their townships are new.
    assert result.created == Division.objects.count() - 18
    assert Division.objects.counties().count() == 10


@pytest.mark.django_db
def test_counties_cities_and_provinces_combine_without_duplicates():
    result = divisions_load(counties=["530822", "110101"], cities=["5308"], provinces=["11"])
    codes = {county.code for county in result.counties}
    assert "530822" in codes and "110101" in codes
    assert sum(code.startswith("5308") for code in codes) == 10
    assert all(code.startswith(("5308", "11")) for code in codes)
    assert set(Division.objects.filter(level="province").values_list("name", flat=True)) == {
        "云南省",
        "北京市",
    }
    assert Division.objects.count() == result.created


@pytest.mark.django_db
def test_a_whole_province_loads_in_a_handful_of_queries(django_assert_max_num_queries):
    with django_assert_max_num_queries(20):  # SQLite inserts in batches of a few hundred
        result = divisions_load(provinces=["53"])  # 云南省: 129 counties
    assert len(result.counties) == 129
    assert Division.objects.townships().filter(parent__parent__parent__code="53").count() > 1000
    assert Division.history.count() == Division.objects.count()


@pytest.mark.django_db
def test_another_county_loads_from_the_same_tables():
    result = divisions_load(counties=["110101"])  # 东城区, Beijing
    assert result.county.name == "东城区"
    assert result.created > 3


@pytest.mark.django_db
def test_unknown_codes_are_all_named_and_nothing_is_written():
    with pytest.raises(UnknownDivisionError) as error:
        divisions_load(counties=["530822", "999999"], cities=["5399"], provinces=["53"])
    assert error.value.unknown == [("county", "999999"), ("city", "5399")]
    assert not Division.objects.exists()


@pytest.mark.django_db
def test_a_code_of_the_wrong_level_is_unknown_at_that_level():
    with pytest.raises(UnknownDivisionError) as error:
        divisions_load(counties=["5308"])  # a city's code given as a county
    assert error.value.unknown == [("county", "5308")]


@pytest.mark.django_db
def test_the_command_refuses_unknown_codes_by_name(capsys):
    with pytest.raises(CommandError) as error:
        call_command("load_divisions", "--county", "999999", "--province", "99")
    assert "999999" in str(error.value) and "99" in str(error.value)
    assert "nothing loaded" in str(error.value)
    assert not Division.objects.exists()


@pytest.mark.django_db
def test_the_command_loads_counties_cities_and_provinces(capsys):
    call_command("load_divisions", "--county", "530822", "--city", "5308")
    out = capsys.readouterr().out
    assert "墨江哈尼族自治县 (530822): 15 townships" in out
    assert "10 counties;" in out
    call_command("load_divisions", "--city", "5308")
    assert "0 divisions created, 0 updated." in capsys.readouterr().out


@pytest.mark.django_db
def test_the_command_asks_what_to_load_and_loads_nothing_without_it():
    with pytest.raises(CommandError, match="--county 530822"):
        call_command("load_divisions")
    assert not Division.objects.exists()


@pytest.mark.django_db
def test_only_a_province_stands_without_a_parent(mojiang):
    from django.db import IntegrityError, transaction

    with pytest.raises(ValidationError) as error:
        Division(code="530823", name="某县", level="county").full_clean()
    assert "parent" in error.value.message_dict
    with transaction.atomic(), pytest.raises(IntegrityError):
        Division.objects.create(code="530823", name="某县", level="county")


def test_a_county_code_must_extend_its_citys_code(mojiang):
    city = Division.objects.get(code="5308")
    county = Division(code="530922", name="某县", level="county", parent=city)
    with pytest.raises(ValidationError) as error:
        county.full_clean()
    assert "code" in error.value.message_dict


def test_a_village_code_must_extend_its_townships_code(mojiang):
    township = Division.objects.get(code="530822101")
    village = Division(code="530822102001", name="某村", level="village", parent=township)
    with pytest.raises(ValidationError) as error:
        village.full_clean()
    assert "code" in error.value.message_dict


def test_a_village_group_cannot_sit_directly_under_a_township(mojiang):
    township = Division.objects.get(code="530822101")
    group = Division(code="530822101001001", name="一组", level="group", parent=township)
    with pytest.raises(ValidationError) as error:
        group.full_clean()
    assert "parent" in error.value.message_dict


def test_the_division_list_shows_every_township_to_county_wide_roles(client, cast):
    for user in (cast.county, cast.coop, cast.finance, cast.auditor):
        client.force_login(user)
        response = client.get(reverse("divisions:list"))
        assert response.status_code == 200
        assert len(response.context["townships"]) == 15


def test_a_township_officer_sees_only_their_own_township(client, cast):
    client.force_login(cast.township_officer_a)
    response = client.get(reverse("divisions:list"))
    assert [t.code for t in response.context["townships"]] == ["530822101"]
    body = response.content.decode()
    assert "联珠镇" in body
    assert "通关镇" not in body


def test_an_account_without_a_role_may_not_see_divisions(client, roleless_user):
    client.force_login(roleless_user)
    assert client.get(reverse("divisions:list")).status_code == 403


def test_anonymous_visitors_are_sent_to_log_in_for_divisions(client, db):
    response = client.get(reverse("divisions:list"))
    assert response.status_code == 302
