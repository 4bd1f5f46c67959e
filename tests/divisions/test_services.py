import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from divisions.models import Division
from divisions.services import UnknownCountyError, divisions_load_county

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
def test_the_loader_brings_mojiang_and_its_fifteen_townships():
    result = divisions_load_county(county_code="530822")
    assert result.county.name == "墨江哈尼族自治县"
    assert result.created == 16
    townships = dict(Division.objects.townships().values_list("code", "name"))
    assert townships == MOJIANG_TOWNSHIPS
    assert set(Division.objects.townships().values_list("parent", flat=True)) == {result.county.pk}


@pytest.mark.django_db
def test_loading_again_changes_nothing():
    divisions_load_county(county_code="530822")
    again = divisions_load_county(county_code="530822")
    assert (again.created, again.updated) == (0, 0)
    assert Division.objects.count() == 16


@pytest.mark.django_db
def test_a_renamed_township_is_restored_in_place():
    divisions_load_county(county_code="530822")
    Division.objects.filter(code="530822103").update(name="旧名")
    result = divisions_load_county(county_code="530822")
    assert result.updated == 1
    assert Division.objects.get(code="530822103").name == "龙坝镇"


@pytest.mark.django_db
def test_another_county_loads_from_the_same_tables():
    result = divisions_load_county(county_code="110101")  # 东城区, Beijing
    assert result.county.name == "东城区"
    assert result.created > 1


@pytest.mark.django_db
def test_an_unknown_county_code_is_refused_and_nothing_is_written():
    with pytest.raises(UnknownCountyError):
        divisions_load_county(county_code="999999")
    assert not Division.objects.exists()
    with pytest.raises(CommandError, match="999999"):
        call_command("load_divisions", "999999")


@pytest.mark.django_db
def test_the_command_loads_the_configured_county_by_default(capsys):
    call_command("load_divisions")
    assert "墨江哈尼族自治县 (530822): 15 townships" in capsys.readouterr().out


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
