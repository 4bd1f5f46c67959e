import datetime
import re
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.urls import include, path, reverse
from stdnum.cn import ric

from beneficiaries.models import Borrower, DrivenHousehold, Household, Position
from common.masking import mask_phone, mask_resident_id
from tests.beneficiaries import factories


@pytest.fixture
def registry(cast):
    return factories.small_registry(cast)


def as_user(client, user):
    client.force_login(user)
    return client


def field_error(response, field_id: str) -> str:
    """The text of the error shown under the field with this HTML id."""
    html = response.content.decode()
    match = re.search(
        rf'<div class="field-error" id="{field_id}_error"[^>]*>(.*?)</div>', html, re.S
    )
    return re.sub(r"<[^>]+>", "", match.group(1)) if match else ""


# --- Who may open each page -------------------------------------------------

LIST_ACCESS = {
    "county": 200,
    "township_officer_a": 200,
    "township_officer_b": 200,
    "finance": 200,
    "auditor": 200,
    "coop": 403,
}


@pytest.mark.parametrize(("who", "status"), LIST_ACCESS.items())
def test_the_list_is_open_to_roles_that_view_borrowers(client, cast, registry, who, status):
    response = as_user(client, getattr(cast, who)).get(reverse("borrowers:list"))
    assert response.status_code == status


def test_the_list_refuses_a_user_without_a_role(client, registry, roleless_user):
    assert as_user(client, roleless_user).get(reverse("borrowers:list")).status_code == 403


@pytest.mark.parametrize(
    "url",
    [
        lambda r: reverse("borrowers:list"),
        lambda r: reverse("borrowers:detail", args=[r.zhang.pk]),
        lambda r: reverse("borrowers:create"),
        lambda r: reverse("borrowers:edit", args=[r.zhang.pk]),
    ],
    ids=["list", "detail", "create", "edit"],
)
def test_anonymous_visitors_are_sent_to_log_in(client, registry, url):
    response = client.get(url(registry))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


DETAIL_ACCESS = {
    "county": 200,
    "township_officer_a": 200,
    "township_officer_b": 404,
    "finance": 200,
    "auditor": 200,
    "coop": 403,
}


@pytest.mark.parametrize(("who", "status"), DETAIL_ACCESS.items())
def test_the_detail_page_is_confined_to_the_borrowers_township(client, cast, registry, who, status):
    url = reverse("borrowers:detail", args=[registry.zhang.pk])
    assert as_user(client, getattr(cast, who)).get(url).status_code == status


def test_a_borrower_that_does_not_exist_is_a_404(client, cast, registry):
    url = reverse("borrowers:detail", args=[registry.wang.pk + 1000])
    assert as_user(client, cast.county).get(url).status_code == 404


CREATE_ACCESS = {
    "county": 200,
    "township_officer_a": 200,
    "finance": 403,
    "auditor": 403,
    "coop": 403,
}


@pytest.mark.parametrize(("who", "status"), CREATE_ACCESS.items())
def test_only_roles_that_register_borrowers_may_open_the_form(client, cast, who, status):
    assert (
        as_user(client, getattr(cast, who)).get(reverse("borrowers:create")).status_code == status
    )


EDIT_ACCESS = {
    "county": 200,
    "township_officer_a": 200,
    "township_officer_b": 404,
    "finance": 403,
    "auditor": 403,
    "coop": 403,
}


@pytest.mark.parametrize(("who", "status"), EDIT_ACCESS.items())
def test_the_edit_form_is_for_editors_of_the_borrowers_township(
    client, cast, registry, who, status
):
    url = reverse("borrowers:edit", args=[registry.zhang.pk])
    assert as_user(client, getattr(cast, who)).get(url).status_code == status


def test_another_townships_officer_cannot_change_a_borrower_by_posting(client, cast, registry):
    zhang = registry.zhang
    url = reverse("borrowers:edit", args=[zhang.pk])
    response = as_user(client, cast.township_officer_b).post(url, {"name": "改名"})
    assert response.status_code == 404
    zhang.refresh_from_db()
    assert zhang.name == "张建国"


# --- The list ---------------------------------------------------------------


def test_the_list_shows_masked_numbers_even_to_those_who_may_see_them_whole(client, cast, registry):
    html = as_user(client, cast.county).get(reverse("borrowers:list")).content.decode()
    zhang = registry.zhang
    assert mask_resident_id(zhang.id_number) in html
    assert mask_phone(zhang.phone) in html
    assert zhang.id_number not in html
    assert zhang.phone not in html


def test_the_list_shows_each_borrowers_place_category_and_industry(client, cast, registry):
    response = as_user(client, cast.township_officer_a).get(reverse("borrowers:list"))
    html = response.content.decode()
    assert "联珠镇 · 碧溪村 · 第一村民小组" in html
    assert "村“两委”班子成员" in html
    assert "脱贫户" in html
    assert "茶叶" in html
    assert "共 2 名借款人" in html


def test_an_officers_list_never_shows_another_township_whatever_is_asked(client, cast, registry):
    wang = registry.wang
    client = as_user(client, cast.township_officer_a)
    for query in (
        {},
        {"q": wang.name},
        {"q": wang.id_number},
        {"q": wang.phone},
        {"township": cast.township_b.pk},
        {"village": registry.group_b.parent.pk},
        {"industry": registry.pigs.pk, "party_member": "yes"},
        {"poverty_status": "monitored"},
    ):
        response = client.get(reverse("borrowers:list"), query)
        html = response.content.decode()
        rows = html[html.index("<tbody>") : html.index("</tbody>")]
        assert "王小明" not in rows, query
        assert "通关镇" not in html, query
        assert response.context["page"].paginator.count <= 2, query


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"q": "秀英"}, ["李秀英"]),
        ({"q": "whole-id"}, ["李秀英"]),
        ({"q": "phone"}, ["李秀英"]),
        ({"category": "reserve_cadre"}, ["李秀英"]),
        ({"party_member": "no"}, ["李秀英"]),
        ({"poverty_status": "lifted"}, ["李秀英"]),
        ({"sort": "newest"}, ["王小明", "李秀英", "张建国"]),
    ],
)
def test_the_search_box_filters_and_sort_reach_the_page(client, cast, registry, query, expected):
    li = registry.li
    query = {
        key: {"whole-id": li.id_number, "phone": li.phone}.get(value, value)
        for key, value in query.items()
    }
    response = as_user(client, cast.county).get(reverse("borrowers:list"), query)
    assert [b.name for b in response.context["borrowers"]] == expected


def test_the_filter_bar_offers_villages_and_townships_in_chinese(client, cast, registry):
    html = as_user(client, cast.county).get(reverse("borrowers:list")).content.decode()
    assert "全部乡镇" in html
    assert ">通关镇<" in html
    assert ">坝心村<" in html
    assert "养殖业（全部）" in html


def test_an_officers_filter_bar_offers_only_their_own_villages(client, cast, registry):
    html = as_user(client, cast.township_officer_a).get(reverse("borrowers:list")).content.decode()
    assert ">碧溪村<" in html
    assert "坝心村" not in html
    assert "全部乡镇" not in html


def test_the_list_pages_by_fifty_and_keeps_the_filters_in_its_links(client, cast, registry):
    group = registry.group_a1
    for number in range(50):
        factories.borrower(cast.county, group, name=f"测试{number:02d}", party_member=True)
    client = as_user(client, cast.township_officer_a)
    first = client.get(reverse("borrowers:list"), {"party_member": "yes"})
    assert len(first.context["borrowers"]) == 50
    html = first.content.decode()
    assert "共 51 名借款人" in html
    assert "第 1 页，共 2 页" in html
    assert "?party_member=yes&amp;page=2" in html

    second = client.get(reverse("borrowers:list"), {"party_member": "yes", "page": 2})
    assert len(second.context["borrowers"]) == 1
    assert "第 2 页，共 2 页" in second.content.decode()


def test_a_page_number_out_of_range_shows_the_last_page(client, cast, registry):
    response = as_user(client, cast.county).get(reverse("borrowers:list"), {"page": 99})
    assert response.status_code == 200
    assert response.context["page"].number == 1


# Session, user, permissions (2), role, profile, county, count, the three
# choice lists of the filter bar, and the page itself; then the session
# saved again (its idle expiry pushed ahead: an UPDATE between SAVEPOINT
# and RELEASE).
LIST_QUERY_LIMIT = 15


@pytest.mark.parametrize("extra_borrowers", [0, 57], ids=["3-borrowers", "60-borrowers"])
@pytest.mark.parametrize("who", ["county", "township_officer_a"])
@pytest.mark.parametrize("query", [{}, {"q": "批量", "industry": "sector", "sort": "category"}])
def test_the_list_reads_the_same_few_queries_however_many_rows_it_shows(
    client, cast, registry, django_assert_max_num_queries, extra_borrowers, who, query
):
    for number in range(extra_borrowers):
        group = registry.group_a1 if number % 2 else registry.group_a2
        factories.borrower(cast.county, group, name=f"批量{number:02d}")
    if query:
        query = {**query, "industry": registry.pigs.parent_id}
    client = as_user(client, getattr(cast, who))
    with django_assert_max_num_queries(LIST_QUERY_LIMIT):
        response = client.get(reverse("borrowers:list"), query)
    if not query:
        rows = 2 + extra_borrowers if who == "township_officer_a" else 3 + extra_borrowers
        assert len(response.context["borrowers"]) == min(rows, 50)


def urlconf(*, transfer_pages: bool):
    """The project's URLs with stand-in import and export pages, or with
    none. Built when called: importing the project's URLs imports every
    app's views."""
    from zhenxingdai import urls as project_urls

    stand_ins = [
        path("export/", lambda request: HttpResponse(), name="export"),
        path("import/", lambda request: HttpResponse(), name="import"),
    ]

    class URLConf:
        urlpatterns = [
            *(p for p in project_urls.urlpatterns if getattr(p, "namespace", None) != "transfer"),
            path(
                "registry/transfer/",
                include((stand_ins if transfer_pages else [], "transfer")),
            ),
        ]

    return URLConf


def test_the_export_and_import_links_carry_the_filters_once_those_pages_exist(
    client, cast, registry, settings
):
    settings.ROOT_URLCONF = urlconf(transfer_pages=True)
    html = as_user(client, cast.township_officer_a).get(
        reverse("borrowers:list"), {"party_member": "yes", "page": 1}
    )
    html = html.content.decode()
    assert 'href="/registry/transfer/export/?party_member=yes">导出 Excel<' in html
    assert 'href="/registry/transfer/import/">导入<' in html


def test_the_export_and_import_links_need_their_permissions(client, cast, registry, settings):
    settings.ROOT_URLCONF = urlconf(transfer_pages=True)
    html = as_user(client, cast.finance).get(reverse("borrowers:list")).content.decode()
    assert "导出 Excel" not in html
    assert "导入" not in html
    auditor_html = as_user(client, cast.auditor).get(reverse("borrowers:list")).content.decode()
    assert "导出 Excel" in auditor_html
    assert "导入" not in auditor_html


def test_no_export_link_is_shown_before_the_export_page_exists(client, cast, registry, settings):
    settings.ROOT_URLCONF = urlconf(transfer_pages=False)
    html = as_user(client, cast.county).get(reverse("borrowers:list")).content.decode()
    assert "导出 Excel" not in html


# --- The detail page ----------------------------------------------------------


def test_the_detail_page_shows_whole_numbers_to_those_who_may_see_them(client, cast, registry):
    zhang = registry.zhang
    response = as_user(client, cast.township_officer_a).get(
        reverse("borrowers:detail", args=[zhang.pk])
    )
    html = response.content.decode()
    assert zhang.id_number in html
    assert zhang.phone in html


def test_the_detail_page_masks_numbers_for_the_finance_bureau(client, cast, registry):
    zhang = registry.zhang
    household = zhang.household
    household.account_holder, household.bank_name = "张建国", "墨江农村信用社"
    household.account_number = "6228480000000000001"
    household.save()
    response = as_user(client, cast.finance).get(reverse("borrowers:detail", args=[zhang.pk]))
    html = response.content.decode()
    assert zhang.id_number not in html
    assert zhang.phone not in html
    assert household.account_number not in html
    assert mask_resident_id(zhang.id_number) in html
    assert "***************0001" in html


def test_the_detail_page_shows_the_household_position_entity_and_category_today(
    client, cast, registry
):
    zhang = registry.zhang
    response = as_user(client, cast.county).get(reverse("borrowers:detail", args=[zhang.pk]))
    html = response.content.decode()
    assert response.context["positions"].category_label == "村“两委”班子成员"
    assert "村委会主任" in html
    assert "2021-03-01 – 至今" in html
    assert "养殖业 · 生猪" in html
    assert "一般户" in html
    assert "联珠镇 · 碧溪村 · 第一村民小组" in html


def test_a_card_number_failing_the_check_digit_is_a_warning_on_the_detail_page(
    client, cast, registry
):
    li = registry.li
    household = li.household
    household.account_holder, household.bank_name = "李德福", "墨江农村信用社"
    household.account_number = "6228480000000000002"
    household.save()
    html = as_user(client, cast.county).get(reverse("borrowers:detail", args=[li.pk]))
    html = html.content.decode()
    assert 'class="notice warning" data-testid="account-warning"' in html
    assert "一卡通" in html


# --- Driven households -------------------------------------------------------


def test_an_officer_links_a_driven_household_of_their_township(client, cast, registry):
    zhang, li = registry.zhang, registry.li
    url = reverse("borrowers:driven_household_add", args=[zhang.pk])
    response = as_user(client, cast.township_officer_a).post(
        url,
        {
            "head_id_number": li.household.head_id_number,
            "benefit": DrivenHousehold.Benefit.WAGES,
            "yearly_amount": "3600",
        },
    )
    assert response.status_code == 302
    link = DrivenHousehold.objects.get(borrower=zhang)
    assert (link.household, link.yearly_amount) == (li.household, Decimal("3600.00"))
    html = client.get(reverse("borrowers:detail", args=[zhang.pk])).content.decode()
    assert "共带动 1 户，年受益金额合计 3600.00 元" in html
    assert "李德福" in html


def test_a_household_of_another_township_cannot_be_linked(client, cast, registry):
    zhang, wang = registry.zhang, registry.wang
    url = reverse("borrowers:driven_household_add", args=[zhang.pk])
    response = as_user(client, cast.county).post(
        url,
        {
            "head_id_number": wang.household.head_id_number,
            "benefit": DrivenHousehold.Benefit.WAGES,
            "yearly_amount": "100",
        },
    )
    assert response.status_code == 400
    assert "联珠镇没有以此身份证号为户主的农户" in field_error(response, "id_head_id_number")
    assert not DrivenHousehold.objects.exists()


@pytest.mark.parametrize("who", ["auditor", "finance"])
def test_read_only_roles_may_not_link_driven_households(client, cast, registry, who):
    url = reverse("borrowers:driven_household_add", args=[registry.zhang.pk])
    response = as_user(client, getattr(cast, who)).post(url, {})
    assert response.status_code == 403
    detail = client.get(reverse("borrowers:detail", args=[registry.zhang.pk]))
    assert "添加带动户" not in detail.content.decode()


# --- Registering a borrower --------------------------------------------------


def create_data(registry, **overrides) -> dict:
    """A complete, valid registration in a new household of 碧溪村."""
    data = {
        "household_mode": "new",
        "existing_head_id_number": "",
        "head_name": "赵德明",
        "head_id_number": factories.resident_id(birth="19600101"),
        "village_group": registry.group_a1.pk,
        "member_count": "4",
        "poverty_status": Household.PovertyStatus.GENERAL,
        "account_holder": "",
        "account_number": "",
        "bank_name": "",
        "name": "赵光明",
        "id_number": factories.resident_id(birth="19880808"),
        "phone": "13887654321",
        "party_member": "on",
        "base_category": Borrower.Category.INDUSTRY_LEADER,
        "industry": registry.pigs.pk,
        "entity_description": "生猪养殖场",
        "scale": "200",
        "scale_unit": "头",
        "enterprise": "",
        "positions-TOTAL_FORMS": "2",
        "positions-INITIAL_FORMS": "0",
        "positions-MIN_NUM_FORMS": "0",
        "positions-MAX_NUM_FORMS": "1000",
        "positions-0-title": Position.Title.GROUP_LEADER,
        "positions-0-started_on": "2022-01-15",
        "positions-0-ended_on": "",
        "positions-1-title": "",
        "positions-1-started_on": "",
        "positions-1-ended_on": "",
    }
    data.update(overrides)
    return data


def test_an_officer_registers_a_borrower_in_a_new_household(client, cast, registry):
    data = create_data(registry)
    response = as_user(client, cast.township_officer_a).post(reverse("borrowers:create"), data)
    borrower = Borrower.objects.get(id_number=data["id_number"])
    assert response.status_code == 302
    assert response.url == reverse("borrowers:detail", args=[borrower.pk])
    assert borrower.household.head_id_number == data["head_id_number"]
    assert borrower.household.village_group == registry.group_a1
    assert borrower.township == cast.township_a
    assert borrower.category == Borrower.Category.GROUP_CADRE
    assert borrower.positions.get().started_on == datetime.date(2022, 1, 15)
    assert borrower.history.get().history_user == cast.township_officer_a
    assert borrower.household.history.get().history_user == cast.township_officer_a
    detail = client.get(response.url).content.decode()
    assert "借款人赵光明已登记。" in detail


def test_a_borrower_joins_a_household_already_registered(client, cast, registry):
    li_household = registry.li.household
    data = create_data(
        registry,
        household_mode="existing",
        existing_head_id_number=li_household.head_id_number.lower(),
        head_name="",
        head_id_number="",
    )
    response = as_user(client, cast.township_officer_a).post(reverse("borrowers:create"), data)
    assert response.status_code == 302
    assert Borrower.objects.get(id_number=data["id_number"]).household == li_household
    assert Household.objects.count() == 3


def test_an_officer_cannot_join_a_household_of_another_township(client, cast, registry):
    data = create_data(
        registry,
        household_mode="existing",
        existing_head_id_number=registry.wang.household.head_id_number,
    )
    response = as_user(client, cast.township_officer_a).post(reverse("borrowers:create"), data)
    assert response.status_code == 400
    assert "您的管辖范围内没有以此身份证号为户主的农户" in field_error(
        response, "id_existing_head_id_number"
    )
    assert not Borrower.objects.filter(id_number=data["id_number"]).exists()


def _id_with_impossible_date():
    base = "53082219851332001"
    return base + ric.calc_check_digit(base + "0")


BAD_INPUT = [
    pytest.param(
        "id_number",
        lambda r: factories.wrong_check_character(factories.resident_id(birth="19880808")),
        "身份证号校验位错误，应为",
        id="id-checksum",
    ),
    pytest.param(
        "id_number",
        lambda r: _id_with_impossible_date(),
        "身份证号中的出生日期 19851332 不是有效日期。",
        id="id-date",
    ),
    pytest.param(
        "id_number",
        lambda r: factories.resident_id(birth="19880808")[:17],
        "身份证号应为 18 位，此号码为 17 位。",
        id="id-length",
    ),
    pytest.param(
        "id_number",
        lambda r: r.zhang.id_number,
        "该身份证号已登记为借款人，不能重复登记。",
        id="id-duplicate",
    ),
    pytest.param(
        "phone", lambda r: "12887654321", "手机号应为以 13 至 19 开头的 11 位数字。", id="phone"
    ),
    pytest.param(
        "village_group",
        lambda r: r.group_b.pk,
        "该村民小组属于其他乡镇，您只能登记本乡镇的农户。",
        id="group-of-another-township",
    ),
    pytest.param(
        "head_id_number",
        lambda r: r.li.household.head_id_number,
        "以此身份证号为户主的农户已经登记",
        id="household-duplicate",
    ),
    pytest.param(
        "positions-0-ended_on",
        lambda r: "2021-12-31",
        "任职截止日期不能早于起始日期。",
        id="position-ends-before-it-starts",
    ),
]


@pytest.mark.parametrize(("field", "value", "message"), BAD_INPUT)
def test_bad_input_is_named_in_chinese_next_to_its_field_and_nothing_is_saved(
    client, cast, registry, field, value, message
):
    data = create_data(registry, **{field: value(registry)})
    before = (Borrower.objects.count(), Household.objects.count(), Position.objects.count())
    response = as_user(client, cast.township_officer_a).post(reverse("borrowers:create"), data)
    assert response.status_code == 400
    assert message in field_error(response, f"id_{field}")
    assert "未保存任何内容" in response.content.decode()
    after = (Borrower.objects.count(), Household.objects.count(), Position.objects.count())
    assert after == before


def test_every_bad_field_is_reported_at_once(client, cast, registry):
    data = create_data(registry, id_number="123", phone="999", head_id_number="abc")
    response = as_user(client, cast.township_officer_a).post(reverse("borrowers:create"), data)
    for field in ("id_number", "phone", "head_id_number"):
        assert field_error(response, f"id_{field}"), field


def test_a_refused_save_leaves_no_new_household_behind(client, cast, registry, monkeypatch):
    def refuse(**kwargs):
        raise ValidationError({"phone": ["该手机号已被停用。"], "positions": ["职务 1：有误。"]})

    monkeypatch.setattr("beneficiaries.registry.views.borrower_create", refuse)
    data = create_data(registry)
    households = Household.objects.count()
    response = as_user(client, cast.township_officer_a).post(reverse("borrowers:create"), data)
    assert response.status_code == 400
    assert Household.objects.count() == households
    assert not Household.objects.filter(head_id_number=data["head_id_number"]).exists()
    assert "该手机号已被停用。" in field_error(response, "id_phone")
    assert "职务 1：有误。" in response.content.decode()


def test_the_form_offers_only_the_officers_own_village_groups_grouped_by_village(
    client, cast, registry
):
    response = as_user(client, cast.township_officer_a).get(reverse("borrowers:create"))
    html = response.content.decode()
    assert '<optgroup label="联珠镇 · 碧溪村">' in html
    assert '<optgroup label="联珠镇 · 新华村">' in html
    assert "坝心村" not in html
    assert '<optgroup label="养殖业">' in html


# --- Editing -----------------------------------------------------------------


def edit_data(borrower, **overrides) -> dict:
    household = borrower.household
    positions = list(borrower.positions.all())
    data = {
        "head_name": household.head_name,
        "head_id_number": household.head_id_number,
        "village_group": household.village_group_id,
        "member_count": str(household.member_count),
        "poverty_status": household.poverty_status,
        "account_holder": household.account_holder,
        "account_number": household.account_number,
        "bank_name": household.bank_name,
        "name": borrower.name,
        "id_number": borrower.id_number,
        "phone": borrower.phone,
        "base_category": borrower.base_category,
        "industry": borrower.industry_id,
        "entity_description": borrower.entity_description,
        "scale": "" if borrower.scale is None else str(borrower.scale),
        "scale_unit": borrower.scale_unit,
        "enterprise": borrower.enterprise_id or "",
        "positions-TOTAL_FORMS": str(len(positions) + 2),
        "positions-INITIAL_FORMS": str(len(positions)),
        "positions-MIN_NUM_FORMS": "0",
        "positions-MAX_NUM_FORMS": "1000",
    }
    if borrower.party_member:
        data["party_member"] = "on"
    for number, position in enumerate(positions):
        data[f"positions-{number}-id"] = str(position.pk)
        data[f"positions-{number}-borrower"] = str(borrower.pk)
        data[f"positions-{number}-title"] = position.title
        data[f"positions-{number}-started_on"] = position.started_on.isoformat()
        data[f"positions-{number}-ended_on"] = (
            position.ended_on.isoformat() if position.ended_on else ""
        )
    for number in range(len(positions), len(positions) + 2):
        for name in ("title", "started_on", "ended_on"):
            data[f"positions-{number}-{name}"] = ""
    data.update(overrides)
    return data


def test_an_edit_is_saved_and_recorded_with_the_officer_and_address(client, cast, registry):
    zhang = registry.zhang
    url = reverse("borrowers:edit", args=[zhang.pk])
    data = edit_data(zhang, phone="13900001111", scale="250", scale_unit="头", member_count="6")
    response = as_user(client, cast.township_officer_a).post(url, data, REMOTE_ADDR="10.20.30.40")
    assert response.status_code == 302
    zhang.refresh_from_db()
    assert (zhang.phone, zhang.scale, zhang.household.member_count) == (
        "13900001111",
        Decimal("250.00"),
        6,
    )
    latest = zhang.history.latest()
    assert latest.history_user == cast.township_officer_a
    assert latest.ip_address == "10.20.30.40"
    assert zhang.household.history.latest().history_user == cast.township_officer_a


def test_the_history_shows_who_changed_what(client, cast, registry):
    zhang = registry.zhang
    old_phone = zhang.phone
    client = as_user(client, cast.township_officer_a)
    client.post(
        reverse("borrowers:edit", args=[zhang.pk]),
        edit_data(zhang, phone="13900001111", entity_description="生猪养殖场"),
        REMOTE_ADDR="10.20.30.40",
    )
    html = client.get(reverse("borrowers:detail", args=[zhang.pk])).content.decode()
    history = html[html.index('data-testid="history"') :]
    body = history[history.index("<tbody>") :]
    first_row = body[: body.index("</tr>")]
    assert "township-officer-a" in first_row
    assert "10.20.30.40" in first_row
    assert "手机号" in first_row
    assert f"<del>{old_phone}</del> → <ins>13900001111</ins>" in first_row
    assert "经营主体" in first_row
    assert "<ins>生猪养殖场</ins>" in first_row
    assert "county-officer" in history  # who registered the borrower
    assert "新建" in history


def test_an_edit_ends_a_term_and_the_category_follows(client, cast, registry):
    zhang = registry.zhang
    data = edit_data(zhang, **{"positions-0-ended_on": "2024-03-01"})
    response = as_user(client, cast.township_officer_a).post(
        reverse("borrowers:edit", args=[zhang.pk]), data
    )
    assert response.status_code == 302
    zhang.refresh_from_db()
    assert zhang.positions.get().ended_on == datetime.date(2024, 3, 1)
    assert zhang.category == Borrower.Category.INDUSTRY_LEADER
    detail = client.get(reverse("borrowers:detail", args=[zhang.pk]))
    assert detail.context["positions"].category_label == "致富带头人"
    assert "2021-03-01 – 2024-03-01" in detail.content.decode()


def test_an_edit_adds_and_removes_positions_and_rederives_the_category(client, cast, registry):
    zhang = registry.zhang
    position = zhang.positions.get()
    data = edit_data(
        zhang,
        **{
            "positions-0-DELETE": "on",
            "positions-1-title": Position.Title.GROUP_LEADER,
            "positions-1-started_on": "2020-01-01",
            "positions-1-ended_on": "2020-12-31",
        },
    )
    response = as_user(client, cast.county).post(reverse("borrowers:edit", args=[zhang.pk]), data)
    assert response.status_code == 302
    zhang.refresh_from_db()
    assert not Position.objects.filter(pk=position.pk).exists()
    assert list(zhang.positions.values_list("title", flat=True)) == [Position.Title.GROUP_LEADER]
    assert zhang.category == Borrower.Category.INDUSTRY_LEADER
    deleted = Position.history.filter(id=position.pk, history_type="-").get()
    assert deleted.history_user == cast.county


def test_an_edit_with_a_bad_field_changes_nothing(client, cast, registry):
    zhang = registry.zhang
    data = edit_data(zhang, phone="13900001111", id_number=zhang.id_number[:-1] + "0")
    data["id_number"] = factories.wrong_check_character(zhang.id_number)
    response = as_user(client, cast.township_officer_a).post(
        reverse("borrowers:edit", args=[zhang.pk]), data
    )
    assert response.status_code == 400
    assert "身份证号校验位错误" in field_error(response, "id_id_number")
    zhang.refresh_from_db()
    assert zhang.phone != "13900001111"
    assert zhang.history.count() == 1


def test_an_officer_cannot_move_a_household_into_another_township(client, cast, registry):
    zhang = registry.zhang
    data = edit_data(zhang, village_group=registry.group_b.pk)
    response = as_user(client, cast.township_officer_a).post(
        reverse("borrowers:edit", args=[zhang.pk]), data
    )
    assert response.status_code == 400
    assert "该村民小组属于其他乡镇" in field_error(response, "id_village_group")
    zhang.household.refresh_from_db()
    assert zhang.household.village_group == registry.group_a1


def test_the_county_moves_a_household_and_the_borrower_follows(client, cast, registry):
    zhang = registry.zhang
    data = edit_data(zhang, village_group=registry.group_b.pk)
    response = as_user(client, cast.county).post(reverse("borrowers:edit", args=[zhang.pk]), data)
    assert response.status_code == 302
    zhang.refresh_from_db()
    assert zhang.township == cast.township_b
    assert zhang.household.township == cast.township_b
