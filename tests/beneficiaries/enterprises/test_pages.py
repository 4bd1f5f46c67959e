import pytest
from django.urls import reverse
from stdnum.cn import uscc

from beneficiaries.divisions.services import division_create
from beneficiaries.models import Enterprise, Industry
from beneficiaries.registry.services import enterprise_create


def credit_code(sequence: int) -> str:
    base = f"93530822MA6K{sequence:05d}"
    return base + uscc.calc_check_digit(base + "0")


@pytest.fixture
def villages(cast):
    return {
        township.pk: division_create(
            actor=cast.county, parent=township, code=township.code + "001", name="碧溪村"
        )
        for township in (cast.township_a, cast.township_b)
    }


def form_data(village, sequence=1, **extra):
    data = {
        "name": "墨江县碧溪生猪养殖专业合作社",
        "kind": Enterprise.Kind.COOPERATIVE,
        "credit_code": credit_code(sequence),
        "legal_representative": "李四",
        "phone": "13812345678",
        "village": village.pk,
        "industry": Industry.objects.get(name="生猪").pk,
        "scale": "300",
        "scale_unit": "头",
    }
    data.update(extra)
    return data


def make(cast, village, sequence=1):
    data = form_data(village, sequence)
    data["village"] = village
    data["industry"] = Industry.objects.get(pk=data["industry"])
    return enterprise_create(actor=cast.county, **data)


def test_a_township_officer_registers_an_enterprise_in_their_township(client, cast, villages):
    client.force_login(cast.township_officer_a)
    response = client.post(reverse("enterprises:create"), form_data(villages[cast.township_a.pk]))
    enterprise = Enterprise.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("enterprises:detail", args=[enterprise.pk])
    assert enterprise.township == cast.township_a
    assert enterprise.history.get().history_user == cast.township_officer_a


def test_a_village_of_another_township_is_not_offered_and_not_accepted(client, cast, villages):
    client.force_login(cast.township_officer_a)
    form = client.get(reverse("enterprises:create")).context["form"]
    assert list(form.fields["village"].queryset) == [villages[cast.township_a.pk]]
    response = client.post(reverse("enterprises:create"), form_data(villages[cast.township_b.pk]))
    assert response.status_code == 200
    assert response.context["form"].errors["village"]
    assert not Enterprise.objects.exists()


def test_a_bad_credit_code_gets_a_chinese_error_and_nothing_is_saved(client, cast, villages):
    client.force_login(cast.county)
    good = credit_code(1)
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    response = client.post(
        reverse("enterprises:create"),
        form_data(villages[cast.township_a.pk], credit_code=bad, phone="1234"),
    )
    errors = response.context["form"].errors
    assert "统一社会信用代码校验位错误。" in errors["credit_code"]
    assert "手机号应为以 13 至 19 开头的 11 位数字。" in errors["phone"]
    assert not Enterprise.objects.exists()


def test_the_list_is_confined_to_the_officers_township(client, cast, villages):
    make(cast, villages[cast.township_a.pk], 1)
    other = make(cast, villages[cast.township_b.pk], 2)
    client.force_login(cast.township_officer_a)
    listed = list(client.get(reverse("enterprises:list")).context["page"])
    assert len(listed) == 1 and listed[0].township == cast.township_a
    assert client.get(reverse("enterprises:detail", args=[other.pk])).status_code == 404
    assert client.get(reverse("enterprises:edit", args=[other.pk])).status_code == 404


def test_search_finds_by_name_and_by_credit_code(client, cast, villages):
    enterprise = make(cast, villages[cast.township_a.pk], 1)
    client.force_login(cast.county)
    by_name = client.get(reverse("enterprises:list"), {"q": "碧溪"}).context["page"]
    by_code = client.get(reverse("enterprises:list"), {"q": enterprise.credit_code}).context["page"]
    nothing = client.get(reverse("enterprises:list"), {"q": "不存在"}).context["page"]
    assert [e.pk for e in by_name] == [e.pk for e in by_code] == [enterprise.pk]
    assert list(nothing) == []


@pytest.mark.parametrize("who", ["coop", "roleless"])
def test_roles_without_the_registry_may_not_see_enterprises(client, cast, roleless_user, who):
    client.force_login(roleless_user if who == "roleless" else cast.coop)
    assert client.get(reverse("enterprises:list")).status_code == 403


def test_the_auditor_reads_but_may_not_change(client, cast, villages):
    enterprise = make(cast, villages[cast.township_a.pk], 1)
    client.force_login(cast.auditor)
    detail = client.get(reverse("enterprises:detail", args=[enterprise.pk]))
    assert detail.status_code == 200
    assert reverse("enterprises:edit", args=[enterprise.pk]) not in detail.content.decode()
    edit = client.post(reverse("enterprises:edit", args=[enterprise.pk]), {"name": "x"})
    assert edit.status_code == 403
    enterprise.refresh_from_db()
    assert enterprise.name == "墨江县碧溪生猪养殖专业合作社"


def test_editing_records_the_change_in_the_history(client, cast, villages):
    village = villages[cast.township_a.pk]
    enterprise = make(cast, village, 1)
    client.force_login(cast.township_officer_a)
    response = client.post(
        reverse("enterprises:edit", args=[enterprise.pk]),
        form_data(village, 1, legal_representative="王五"),
    )
    assert response.status_code == 302
    latest = enterprise.history.first()
    assert latest.history_user == cast.township_officer_a
    assert latest.legal_representative == "王五"
