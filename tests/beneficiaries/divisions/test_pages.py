import pytest
from django.urls import reverse

from beneficiaries.divisions.services import division_create
from divisions.models import Division


@pytest.fixture
def village(cast):
    return division_create(
        actor=cast.county, parent=cast.township_a, code="530822101001", name="碧溪村"
    )


def test_the_township_page_lists_villages_with_their_groups(client, cast, village):
    division_create(actor=cast.county, parent=village, code="530822101001001", name="大寨组")
    client.force_login(cast.finance)
    response = client.get(reverse("divisions:township", args=[cast.township_a.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "碧溪村" in body and "大寨组" in body
    assert reverse("divisions:add", args=[village.pk]) not in body  # finance may not edit


def test_a_township_officer_cannot_open_another_township(client, cast):
    client.force_login(cast.township_officer_a)
    assert client.get(reverse("divisions:township", args=[cast.township_a.pk])).status_code == 200
    assert client.get(reverse("divisions:township", args=[cast.township_b.pk])).status_code == 404


def test_the_county_adds_a_village_with_the_next_free_code(client, cast, village):
    client.force_login(cast.county)
    page = client.get(reverse("divisions:add", args=[cast.township_a.pk]))
    assert page.context["form"].initial["code"] == "530822101002"
    response = client.post(
        reverse("divisions:add", args=[cast.township_a.pk]),
        {"name": "界牌村", "code": "530822101002"},
    )
    assert response.status_code == 302
    created = Division.objects.get(code="530822101002")
    assert (created.name, created.level, created.parent) == ("界牌村", "village", cast.township_a)
    assert created.history.get().history_user == cast.county


def test_a_code_that_does_not_extend_the_parent_is_refused_in_chinese(client, cast, village):
    client.force_login(cast.county)
    response = client.post(
        reverse("divisions:add", args=[village.pk]), {"name": "一组", "code": "530822102001001"}
    )
    assert response.status_code == 200
    assert "区划代码必须以上级区划代码 530822101001 开头" in response.content.decode()
    assert not Division.objects.filter(level="group").exists()


def test_a_duplicate_code_is_refused(client, cast, village):
    client.force_login(cast.county)
    response = client.post(
        reverse("divisions:add", args=[cast.township_a.pk]),
        {"name": "又一个碧溪村", "code": village.code},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["code"]
    assert Division.objects.filter(code=village.code).count() == 1


def test_renaming_keeps_the_code(client, cast, village):
    client.force_login(cast.county)
    client.post(reverse("divisions:edit", args=[village.pk]), {"name": "碧溪社区", "code": "x"})
    village.refresh_from_db()
    assert (village.name, village.code) == ("碧溪社区", "530822101001")


@pytest.mark.parametrize("who", ["township_officer_a", "coop", "finance", "auditor"])
def test_only_the_county_may_add_or_rename(client, cast, village, who):
    client.force_login(getattr(cast, who))
    add = client.post(reverse("divisions:add", args=[village.pk]), {"name": "x", "code": "1"})
    edit = client.post(reverse("divisions:edit", args=[village.pk]), {"name": "x"})
    assert (add.status_code, edit.status_code) == (403, 403)
    village.refresh_from_db()
    assert village.name == "碧溪村"
