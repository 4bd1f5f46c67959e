import re

import pytest
from django.urls import reverse

from beneficiaries.models import Borrower, Industry
from tests.beneficiaries import factories

ROLES = ["county", "township_officer_a", "township_officer_b", "coop", "finance", "auditor"]


def as_user(client, user):
    client.force_login(user)
    return client


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def field_error(response, field_id: str) -> str:
    match = re.search(
        rf'<div class="field-error" id="{field_id}_error"[^>]*>(.*?)</div>',
        response.content.decode(),
        re.S,
    )
    return re.sub(r"<[^>]+>", "", match.group(1)).strip() if match else ""


def borrowers_shown(html: str, kind: str) -> int:
    return int(re.search(rf'data-testid="borrowers-{kind}">(\d+)<', html).group(1))


def industry(name: str) -> Industry:
    return Industry.objects.get(name=name)


def kind_data(kind: Industry, **overrides) -> dict:
    data = {
        "parent": str(kind.parent_id),
        "name": kind.name,
        "farming": kind.farming,
        "sort_order": str(kind.sort_order),
    }
    data.update(overrides)
    return data


# --- Who may do what -------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_every_staff_role_reads_the_tree(client, cast, role):
    assert as_user(client, getattr(cast, role)).get(reverse("industries:list")).status_code == 200


def test_anonymous_visitors_are_sent_to_log_in(client, db):
    response = client.get(reverse("industries:list"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_a_user_without_a_role_may_not_read_the_tree(client, roleless_user):
    assert as_user(client, roleless_user).get(reverse("industries:list")).status_code == 403


def _edit_urls():
    return {
        "add_sector": reverse("industries:add_sector"),
        "add_kind": reverse("industries:add_kind"),
        "edit": reverse("industries:edit", args=[industry("生猪").pk]),
    }


@pytest.mark.parametrize("page", ["add_sector", "add_kind", "edit"])
def test_only_the_county_office_opens_the_forms(client, cast, page):
    url = _edit_urls()[page]
    for role in ROLES:
        expected = 200 if role == "county" else 403
        assert as_user(client, getattr(cast, role)).get(url).status_code == expected, role


@pytest.mark.parametrize("role", [r for r in ROLES if r != "county"])
def test_others_cannot_post_changes(client, cast, role):
    pig = industry("生猪")
    client = as_user(client, getattr(cast, role))
    assert (
        client.post(_edit_urls()["add_sector"], {"name": "渔业", "sort_order": "5"}).status_code
        == 403
    )
    assert client.post(_edit_urls()["edit"], kind_data(pig, name="猪")).status_code == 403
    assert not Industry.objects.filter(name__in=["渔业", "猪"]).exists()


def test_only_the_county_office_sees_the_edit_links(client, cast):
    county = as_user(client, cast.county).get(reverse("industries:list")).content.decode()
    assert reverse("industries:add_sector") in county
    assert reverse("industries:edit", args=[industry("生猪").pk]) in county
    finance = as_user(client, cast.finance).get(reverse("industries:list")).content.decode()
    assert reverse("industries:add_sector") not in finance
    assert reverse("industries:edit", args=[industry("生猪").pk]) not in finance


# --- The tree --------------------------------------------------------------------


def test_the_tree_shows_sectors_with_their_kinds_farming_and_borrowers(client, cast):
    factories.small_registry(cast)
    response = as_user(client, cast.county).get(reverse("industries:list"))
    html = response.content.decode()
    page = text(response)
    assert (
        page.index("养殖业")
        < page.index("种植业")
        < page.index("林下种养殖")
        < page.index("文化旅游")
    )
    husbandry = re.search(r'data-testid="sector-养殖业">(.*?)</section>', html, re.S).group(1)
    assert "生猪" in husbandry and "茶叶" not in husbandry
    assert 'farming farming-husbandry">养殖业' in husbandry
    shown = {name: borrowers_shown(html, name) for name in ("生猪", "茶叶", "紫米")}
    # small_registry: two pig farmers (one in each township) and one tea grower.
    assert shown == {"生猪": 2, "茶叶": 1, "紫米": 0}


def test_a_township_officer_counts_only_their_townships_borrowers(client, cast):
    factories.small_registry(cast)
    html = as_user(client, cast.township_officer_b).get(reverse("industries:list")).content.decode()
    assert borrowers_shown(html, "生猪") == 1
    assert borrowers_shown(html, "茶叶") == 0


# --- Edits -----------------------------------------------------------------------


def test_the_county_office_adds_a_sector_and_a_kind_under_it(client, cast):
    client = as_user(client, cast.county)
    response = client.post(reverse("industries:add_sector"), {"name": "渔业", "sort_order": "5"})
    assert response.status_code == 302
    sector = Industry.objects.get(name="渔业")
    assert sector.parent is None and sector.sort_order == 5
    assert client.get(reverse("industries:add_kind"), {"sector": sector.pk}).status_code == 200
    response = client.post(
        reverse("industries:add_kind"),
        {"parent": sector.pk, "name": "稻田养鱼", "farming": "husbandry", "sort_order": "1"},
    )
    assert response.status_code == 302
    kind = Industry.objects.get(name="稻田养鱼")
    assert kind.parent == sector and kind.farming == "husbandry"
    assert "稻田养鱼" in text(client.get(reverse("industries:list")))


def test_the_county_office_renames_reorders_and_sets_the_farming_type(client, cast):
    tea = industry("茶叶")
    response = as_user(client, cast.county).post(
        reverse("industries:edit", args=[tea.pk]),
        kind_data(tea, name="普洱茶", sort_order="0", farming="other"),
    )
    assert response.status_code == 302
    tea.refresh_from_db()
    assert (tea.name, tea.sort_order, tea.farming) == ("普洱茶", 0, "other")


def test_a_sector_is_renamed_and_reordered(client, cast):
    tourism = industry("文化旅游")
    response = as_user(client, cast.county).post(
        reverse("industries:edit", args=[tourism.pk]), {"name": "文旅融合", "sort_order": "0"}
    )
    assert response.status_code == 302
    tourism.refresh_from_db()
    assert (tourism.name, tourism.sort_order, tourism.parent) == ("文旅融合", 0, None)
    page = text(as_user(client, cast.county).get(reverse("industries:list")))
    assert page.index("文旅融合") < page.index("养殖业")


def test_a_kind_cannot_go_under_another_kind(client, cast):
    response = as_user(client, cast.county).post(
        reverse("industries:add_kind"),
        {"parent": industry("生猪").pk, "name": "黑猪", "farming": "husbandry", "sort_order": "1"},
    )
    assert response.status_code == 400
    assert "只有“门类—品种”两级" in field_error(response, "id_parent")
    assert not Industry.objects.filter(name="黑猪").exists()


def test_a_kind_in_use_is_not_moved_to_another_sector(client, cast):
    factories.small_registry(cast)
    pig = industry("生猪")
    assert Borrower.objects.filter(industry=pig).exists()
    response = as_user(client, cast.county).post(
        reverse("industries:edit", args=[pig.pk]),
        kind_data(pig, parent=str(industry("林下种养殖").pk)),
    )
    assert response.status_code == 400
    message = field_error(response, "id_parent")
    assert "生猪 已被使用" in message and "借款人" in message
    assert "不能移到其他门类" in message
    pig.refresh_from_db()
    assert pig.parent == industry("养殖业")


def test_a_kind_no_one_uses_may_move_to_another_sector(client, cast):
    goat = industry("山羊")
    response = as_user(client, cast.county).post(
        reverse("industries:edit", args=[goat.pk]),
        kind_data(goat, parent=str(industry("林下种养殖").pk)),
    )
    assert response.status_code == 302
    goat.refresh_from_db()
    assert goat.parent == industry("林下种养殖")


def test_a_duplicate_name_in_a_sector_is_a_field_error(client, cast):
    response = as_user(client, cast.county).post(
        reverse("industries:add_kind"),
        {
            "parent": industry("养殖业").pk,
            "name": "生猪",
            "farming": "husbandry",
            "sort_order": "9",
        },
    )
    assert response.status_code == 400
    assert "养殖业 下已有名为 生猪 的品种" in field_error(response, "id_name")
    assert Industry.objects.filter(name="生猪").count() == 1


def test_a_duplicate_sector_name_is_a_field_error(client, cast):
    response = as_user(client, cast.county).post(
        reverse("industries:add_sector"), {"name": "种植业", "sort_order": "9"}
    )
    assert response.status_code == 400
    assert "已有名为 种植业 的产业门类" in field_error(response, "id_name")


def test_a_sector_form_offers_no_parent(client, cast):
    html = (
        as_user(client, cast.county)
        .get(reverse("industries:edit", args=[industry("养殖业").pk]))
        .content.decode()
    )
    assert 'name="parent"' not in html and 'name="farming"' not in html
