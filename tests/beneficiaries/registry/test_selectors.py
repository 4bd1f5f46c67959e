import datetime

import pytest
from django.http import QueryDict

from beneficiaries.models import Borrower
from beneficiaries.registry.selectors import borrower_history, borrower_list, borrower_positions
from beneficiaries.registry.services import borrower_update, household_update, position_save
from tests.beneficiaries import factories


@pytest.fixture
def registry(cast):
    return factories.small_registry(cast)


def names(user, query: str = "") -> list[str]:
    """The names on the user's list for a query string (e.g. ``"q=建国"``)."""
    params = QueryDict(mutable=True)
    for pair in filter(None, query.split("&")):
        key, _, value = pair.partition("=")
        params[key] = value
    return [b.name for b in borrower_list(user=user, params=params).qs]


def test_each_township_officer_sees_their_own_township_only(cast, registry):
    assert sorted(names(cast.township_officer_a)) == ["张建国", "李秀英"]
    assert names(cast.township_officer_b) == ["王小明"]


@pytest.mark.parametrize("who", ["county", "finance", "auditor"])
def test_county_wide_roles_see_every_township(cast, registry, who):
    assert sorted(names(getattr(cast, who))) == ["张建国", "李秀英", "王小明"]


def test_a_user_without_a_role_sees_nobody(registry, roleless_user):
    assert names(roleless_user) == []


def test_the_search_matches_part_of_a_name(cast, registry):
    assert names(cast.county, "q=建国") == ["张建国"]


def test_the_search_matches_a_whole_id_number_however_typed(cast, registry):
    number = registry.li.id_number
    spaced = f"{number[:6]} {number[6:14]} {number[14:].lower()}"
    assert names(cast.county, "q=" + spaced) == ["李秀英"]


def test_the_search_matches_the_last_digits_of_an_id_number(cast, registry):
    tail = registry.wang.id_number[-6:]
    assert names(cast.county, "q=" + tail) == ["王小明"]


def test_the_search_ignores_id_tails_shorter_than_four(cast, registry):
    assert names(cast.county, "q=" + registry.wang.id_number[-3:]) == []


def test_the_search_matches_a_whole_mobile_number(cast, registry):
    assert names(cast.county, "q=" + registry.zhang.phone) == ["张建国"]


def test_the_search_never_reaches_into_another_township(cast, registry):
    wang = registry.wang
    for query in (wang.name, wang.id_number, wang.id_number[-4:], wang.phone):
        assert names(cast.township_officer_a, "q=" + query) == [], query


def test_the_township_filter_narrows_the_county_list(cast, registry):
    assert names(cast.county, f"township={cast.township_b.pk}") == ["王小明"]


def test_a_township_officer_is_offered_no_township_filter(cast, registry):
    officer_list = borrower_list(user=cast.township_officer_a, params=QueryDict())
    assert "township" not in officer_list.form.fields
    assert "township" in borrower_list(user=cast.county, params=QueryDict()).form.fields


def test_a_township_filter_smuggled_into_an_officers_query_changes_nothing(cast, registry):
    assert sorted(names(cast.township_officer_a, f"township={cast.township_b.pk}")) == [
        "张建国",
        "李秀英",
    ]


def test_the_village_filter_narrows_to_one_village(cast, registry):
    village = registry.group_a2.parent
    assert names(cast.township_officer_a, f"village={village.pk}") == ["李秀英"]


def test_an_officer_is_offered_only_their_own_villages(cast, registry):
    field = borrower_list(user=cast.township_officer_a, params=QueryDict()).form.fields["village"]
    assert set(field.queryset.values_list("name", flat=True)) == {"碧溪村", "新华村"}


def test_the_village_choices_follow_the_chosen_township(cast, registry):
    params = QueryDict(f"township={cast.township_b.pk}")
    field = borrower_list(user=cast.county, params=params).form.fields["village"]
    assert list(field.queryset.values_list("name", flat=True)) == ["坝心村"]


def test_another_townships_village_is_refused_and_the_list_stays_confined(cast, registry):
    village_b = registry.group_b.parent
    filterset = borrower_list(
        user=cast.township_officer_a, params=QueryDict(f"village={village_b.pk}")
    )
    assert "village" in filterset.form.errors
    assert sorted(b.name for b in filterset.qs) == ["张建国", "李秀英"]


def test_the_category_filter_uses_the_stored_category(cast, registry):
    assert names(cast.county, "category=village_committee") == ["张建国"]
    assert names(cast.county, "category=reserve_cadre") == ["李秀英"]


def test_an_industry_sector_matches_every_kind_in_it(cast, registry):
    husbandry = registry.pigs.parent
    assert sorted(names(cast.county, f"industry={husbandry.pk}")) == ["张建国", "王小明"]


def test_an_industry_kind_matches_itself(cast, registry):
    assert names(cast.county, f"industry={registry.tea.pk}") == ["李秀英"]


def test_the_party_member_filter_says_yes_or_no(cast, registry):
    assert sorted(names(cast.county, "party_member=yes")) == ["张建国", "王小明"]
    assert names(cast.county, "party_member=no") == ["李秀英"]


def test_the_poverty_status_filter_uses_the_household(cast, registry):
    assert names(cast.county, "poverty_status=lifted") == ["李秀英"]
    assert names(cast.county, "poverty_status=monitored") == ["王小明"]


def test_filters_combine(cast, registry):
    query = f"township={cast.township_a.pk}&party_member=yes&industry={registry.pigs.pk}"
    assert names(cast.county, query) == ["张建国"]


def test_the_list_sorts_by_township_then_village_by_default(cast, registry):
    assert names(cast.county) == ["张建国", "李秀英", "王小明"]


def test_the_list_sorts_by_name(cast, registry):
    # Code-point order of the first character: 张 (5F20) < 李 (674E) < 王 (738B).
    assert names(cast.county, "sort=name") == ["张建国", "李秀英", "王小明"]
    factories.borrower(cast.county, registry.group_b, name="丁一")
    assert names(cast.county, "sort=name")[0] == "丁一"


def test_the_list_sorts_newest_first(cast, registry):
    assert names(cast.county, "sort=newest") == ["王小明", "李秀英", "张建国"]


def test_the_list_sorts_by_category_in_the_programmes_order(cast, registry):
    assert names(cast.county, "sort=category") == ["张建国", "王小明", "李秀英"]


def test_an_unknown_sort_keeps_the_default_order(cast, registry):
    assert names(cast.county, "sort=salary") == ["张建国", "李秀英", "王小明"]


def test_the_history_lists_creation_and_each_change_newest_first(cast, registry):
    zhang = registry.zhang
    borrower_update(actor=cast.township_officer_a, borrower=zhang, scale=200, scale_unit="头")
    household_update(actor=cast.county, household=zhang.household, member_count=5)
    entries = borrower_history(borrower=zhang, show_personal_data=True)

    household_change, borrower_change = entries[0], entries[1]
    assert household_change.kind == "changed"
    assert household_change.user == cast.county
    assert [(c.label, c.old, c.new) for c in household_change.changes] == [("家庭人口", "1", "5")]
    assert borrower_change.user == cast.township_officer_a
    assert {c.label: c.new for c in borrower_change.changes} == {"规模": "200.00", "单位": "头"}
    kinds = [(entry.subject, entry.kind) for entry in entries[2:]]
    assert ("借款人", "created") in kinds
    assert ("农户", "created") in kinds
    assert any(subject.startswith("职务") and kind == "created" for subject, kind in kinds)


def test_the_history_names_foreign_keys_and_choices_not_codes(cast, registry):
    zhang = registry.zhang
    borrower_update(actor=cast.county, borrower=zhang, industry=registry.tea, party_member=False)
    changes = borrower_history(borrower=zhang, show_personal_data=True)[0].changes
    assert {c.label: (c.old, c.new) for c in changes} == {
        "产业": ("养殖业 · 生猪", "种植业 · 茶叶"),
        "中共党员": ("是", "否"),
    }


def test_the_history_follows_the_category_when_a_term_ends(cast, registry):
    zhang = registry.zhang
    position = zhang.positions.get()
    position_save(
        actor=cast.county,
        borrower=zhang,
        position=position,
        ended_on=datetime.date(2024, 3, 1),
    )
    entries = borrower_history(borrower=zhang, show_personal_data=True)
    labels = {(entry.subject, c.label, c.new) for entry in entries for c in entry.changes}
    assert ("借款人", "类别", "致富带头人") in labels
    assert ("职务：村委会主任", "任职截止", "2024-03-01") in labels


def test_the_history_masks_numbers_for_users_who_may_not_see_them(cast, registry):
    li = registry.li
    old_phone = li.phone
    borrower_update(actor=cast.county, borrower=li, phone="13912345678")
    masked = borrower_history(borrower=li, show_personal_data=False)[0].changes
    whole = borrower_history(borrower=li, show_personal_data=True)[0].changes
    assert [(c.old, c.new) for c in masked] == [
        (old_phone[:3] + "****" + old_phone[-4:], "139****5678")
    ]
    assert [(c.old, c.new) for c in whole] == [(old_phone, "13912345678")]


def test_a_save_that_changed_nothing_is_not_listed(cast, registry):
    li = registry.li
    before = len(borrower_history(borrower=li, show_personal_data=True))
    borrower_update(actor=cast.county, borrower=li)
    assert Borrower.history.filter(id=li.pk).count() == 2
    assert len(borrower_history(borrower=li, show_personal_data=True)) == before


def test_the_positions_give_the_category_on_any_day(cast, registry):
    zhang = registry.zhang
    before = borrower_positions(borrower=zhang, day=datetime.date(2020, 1, 1))
    during = borrower_positions(borrower=zhang, day=datetime.date(2022, 6, 1))
    assert (before.category, before.in_force) == (Borrower.Category.INDUSTRY_LEADER, set())
    assert during.category == Borrower.Category.VILLAGE_COMMITTEE
    assert during.in_force == {zhang.positions.get().pk}
    assert during.category_label == "村“两委”班子成员"
