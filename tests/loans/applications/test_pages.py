"""The application pages: list, new application, detail with its timeline and steps."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse

from loans.applications.selectors import application_steps
from loans.applications.services import application_transition
from loans.models import Application, ApplicationTransition, Programme
from tests.loans.applications.test_flow import approve, submit
from tests.loans.conftest import pig_industry

State = Application.State
STAFF = ["county", "township_officer_a", "coop", "finance", "auditor"]


def client_for(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def application(cast, programme, people):
    """A submitted application of a committee member in 联珠镇 (township a)."""
    return submit(cast.township_officer_a, programme, people.borrower(), amount="80000.00")


def step(client, application, to_state, comment=""):
    return client.post(
        reverse("applications:transition", args=[application.pk]),
        {"to_state": to_state, "comment": comment},
    )


# --- Who may see what -------------------------------------------------------


@pytest.mark.parametrize("who", STAFF)
def test_staff_see_the_list_and_the_detail(client, cast, application, who):
    client_for(client, getattr(cast, who))
    assert client.get(reverse("applications:list")).status_code == 200
    response = client.get(reverse("applications:detail", args=[application.pk]))
    assert response.status_code == 200
    assert response.context["application"] == application


def test_it_refuses_a_user_with_no_role(client, roleless_user, application):
    client_for(client, roleless_user)
    assert client.get(reverse("applications:list")).status_code == 403
    assert client.get(reverse("applications:detail", args=[application.pk])).status_code == 403
    assert client.get(reverse("applications:create")).status_code == 403


def test_it_sends_anonymous_visitors_to_log_in(client, application):
    for url in (
        reverse("applications:list"),
        reverse("applications:create"),
        reverse("applications:detail", args=[application.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))


def test_another_townships_officer_gets_404_for_an_application(client, cast, application):
    client_for(client, cast.township_officer_b)
    assert client.get(reverse("applications:detail", args=[application.pk])).status_code == 404
    response = step(client, application, State.VILLAGE_RECOMMENDED)
    assert response.status_code == 404
    application.refresh_from_db()
    assert application.state == State.SUBMITTED


def test_a_township_officer_lists_only_their_township(client, cast, programme, people):
    own = submit(cast.county, programme, people.borrower())
    submit(cast.county, programme, people.borrower(township=cast.township_b))
    client_for(client, cast.township_officer_a)
    response = client.get(reverse("applications:list"))
    assert list(response.context["applications"]) == [own]
    assert response.context["listing"].total == 1
    assert "township" not in response.context["form"].fields


# --- The list ---------------------------------------------------------------


def test_the_tabs_count_each_state(client, cast, programme, people):
    approve(cast, submit(cast.county, programme, people.borrower()))
    submit(cast.county, programme, people.borrower())
    rejected = submit(cast.county, programme, people.borrower())
    application_transition(
        actor=cast.county, application=rejected, to_state=State.REJECTED, comment="材料不全"
    )
    client_for(client, cast.county)
    response = client.get(reverse("applications:list"), {"state": State.SUBMITTED})
    counts = {item.value: item.count for item in response.context["listing"].state_counts}
    assert counts[State.SUBMITTED] == 1
    assert counts[State.COUNTY_APPROVED] == 1
    assert counts[State.REJECTED] == 1
    assert counts[State.RELEASED] == 0
    assert response.context["listing"].total == 3
    assert len(response.context["applications"]) == 1
    tab = response.content.decode()
    assert 'data-testid="state-submitted"' in tab and 'aria-current="page"' in tab


def test_it_filters_by_village_category_search_programme_and_township(
    client, cast, programme, people
):
    leader = people.borrower(title="group_leader")
    leader.name = "王小明"
    leader.save()
    group_app = submit(cast.county, programme, leader, amount="50000.00")
    member_app = submit(cast.county, programme, people.borrower())
    other_app = submit(cast.county, programme, people.borrower(township=cast.township_b))
    client_for(client, cast.county)
    url = reverse("applications:list")

    def listed(**params):
        return set(client.get(url, params).context["applications"])

    village_a = group_app.household.village_group.parent
    assert listed(village=village_a.pk) == {group_app, member_app}
    assert listed(category="group_cadre") == {group_app}
    assert listed(q="小明") == {group_app}
    assert listed(township=cast.township_b.pk) == {other_app}
    assert listed(programme=programme.pk) == {group_app, member_app, other_app}
    # Another county's programme is not a choice: the filter says so and
    # is left out (the list stays the user's own).
    other_programme = Programme.objects.exclude(region_code__in=["530822", "530800", "530000"])
    other_programme = other_programme.first()
    assert listed(programme=other_programme.pk) == {group_app, member_app, other_app}
    page = client.get("/applications/", {"programme": other_programme.pk}).content.decode()
    assert 'data-testid="filter-error-programme"' in page


def test_a_village_of_another_township_is_no_filter_for_a_township_officer(
    client, cast, programme, people
):
    own = submit(cast.county, programme, people.borrower())
    other = submit(cast.county, programme, people.borrower(township=cast.township_b))
    client_for(client, cast.township_officer_a)
    village_b = other.household.village_group.parent
    response = client.get(reverse("applications:list"), {"village": village_b.pk})
    assert list(response.context["applications"]) == [own]


def test_the_list_shows_the_columns(client, cast, application):
    client_for(client, cast.county)
    content = client.get(reverse("applications:list")).content.decode()
    assert "李四" in content
    assert "联珠镇 · 碧溪村" in content
    assert "生猪" in content
    assert "80,000.00" in content
    assert 'class="state state-submitted"' in content


@pytest.mark.parametrize("rows", [3, 30])
def test_a_page_costs_the_same_queries_for_3_or_30_rows(
    client, cast, programme, people, django_assert_max_num_queries, rows
):
    for _ in range(rows):
        submit(cast.county, programme, people.borrower(), amount="10000.00")
    client_for(client, cast.county)
    # 14 (one of them the codes of the user's counties, whose programmes
    # the filter offers), and 3 for the session saved again at the end of
    # the request (its idle expiry pushed ahead: SAVEPOINT, UPDATE, RELEASE).
    with django_assert_max_num_queries(17):
        response = client.get(reverse("applications:list"))
    assert len(response.context["applications"]) == rows


# --- New application --------------------------------------------------------


@pytest.mark.parametrize("who", ["coop", "finance", "auditor"])
def test_only_county_and_township_officers_submit(client, cast, who):
    client_for(client, getattr(cast, who))
    assert client.get(reverse("applications:create")).status_code == 403
    assert client.post(reverse("applications:create"), {}).status_code == 403


def test_the_first_step_lists_borrowers_of_the_township_by_village(client, cast, people):
    own = people.borrower()
    other = people.borrower(township=cast.township_b)
    client_for(client, cast.township_officer_a)
    response = client.get(reverse("applications:create"))
    assert response.status_code == 200
    field = response.context["chooser"].fields["borrower"]
    assert list(field.queryset) == [own]
    assert "联珠镇 · 碧溪村" in dict(field.widget.choices)
    assert other.pk not in [value for value, _ in field.widget.choices]


def test_the_search_narrows_the_borrowers(client, cast, people):
    wang = people.borrower()
    wang.name = "王小明"
    wang.save()
    people.borrower()
    client_for(client, cast.county)
    response = client.get(reverse("applications:create"), {"q": "小明", "find": "1"})
    assert list(response.context["chooser"].fields["borrower"].queryset) == [wang]
    response = client.get(reverse("applications:create"), {"q": wang.id_number[-6:], "find": "1"})
    assert list(response.context["chooser"].fields["borrower"].queryset) == [wang]


def test_the_second_step_shows_the_households_quota(client, cast, programme, people):
    household = people.household()
    first = people.borrower(household=household)
    submit(cast.county, programme, first, amount="30000.00")
    second = people.borrower(household=household, title="group_leader")
    application_transition(
        actor=cast.county,
        application=Application.objects.get(borrower=first),
        to_state=State.WITHDRAWN,
        comment="改由家人申请",
    )
    submit(cast.county, programme, people.borrower(household=household), amount="20000.00")
    client_for(client, cast.township_officer_a)
    response = client.get(
        reverse("applications:create"), {"programme": programme.pk, "borrower": second.pk}
    )
    assert response.status_code == 200
    quota = response.context["quota"]
    assert (quota.quota, quota.used, quota.remaining) == (
        Decimal("100000.00"),
        Decimal("20000.00"),
        Decimal("80000.00"),
    )
    content = response.content.decode()
    assert "100,000.00" in content and "80,000.00" in content
    assert response.context["form"].initial["industry"] == second.industry


def test_a_link_from_the_borrowers_page_goes_straight_to_the_second_step(client, cast, people):
    borrower = people.borrower()
    client_for(client, cast.township_officer_a)
    response = client.get(reverse("applications:create"), {"borrower": borrower.pk})
    assert response.templates[0].name == "loans/applications/form.html"
    assert response.context["borrower"] == borrower
    assert response.context["programme"].is_active


def test_a_township_officer_cannot_pick_another_townships_borrower(client, cast, programme, people):
    other = people.borrower(township=cast.township_b)
    client_for(client, cast.township_officer_a)
    response = client.get(
        reverse("applications:create"), {"programme": programme.pk, "borrower": other.pk}
    )
    assert response.templates[0].name == "loans/applications/choose.html"
    assert response.context["chooser"].errors["borrower"]
    response = client.post(reverse("applications:create"), form_data(programme, other))
    assert response.status_code == 302
    assert response.url == reverse("applications:create")
    assert not Application.objects.exists()


def form_data(programme, borrower, **extra):
    data = {
        "programme": programme.pk,
        "borrower": borrower.pk,
        "amount": "60000",
        "term_months": "24",
        "industry": pig_industry().pk,
        "purpose": "购买仔猪50头，扩建猪舍",
        "comment": "村两委推荐材料已收",
    }
    data.update(extra)
    return data


def test_submitting_creates_the_application_and_its_first_step(client, cast, programme, people):
    borrower = people.borrower()
    client_for(client, cast.township_officer_a)
    response = client.post(reverse("applications:create"), form_data(programme, borrower))
    application = Application.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("applications:detail", args=[application.pk])
    assert (application.borrower, application.amount, application.state) == (
        borrower,
        Decimal("60000.00"),
        State.SUBMITTED,
    )
    (first,) = application.transitions.all()
    assert (first.to_state, first.actor, first.comment) == (
        State.SUBMITTED,
        cast.township_officer_a,
        "村两委推荐材料已收",
    )


def test_an_amount_above_the_remaining_quota_says_what_is_left(client, cast, programme, people):
    borrower = people.borrower(title="group_leader")  # 50,000 quota
    client_for(client, cast.township_officer_a)
    response = client.post(
        reverse("applications:create"), form_data(programme, borrower, amount="60000")
    )
    assert response.status_code == 400
    errors = response.context["form"].errors["amount"]
    assert "50,000.00" in errors[0]
    assert "50,000.00" in response.content.decode()
    assert not Application.objects.exists()


def test_a_term_outside_the_programme_is_refused_on_its_field(client, cast, programme, people):
    client_for(client, cast.county)
    response = client.post(
        reverse("applications:create"),
        form_data(programme, people.borrower(), term_months="48"),
    )
    assert response.status_code == 400
    assert response.context["form"].errors["term_months"]
    assert not Application.objects.exists()


def test_a_second_open_application_of_a_household_is_refused(client, cast, programme, people):
    household = people.household()
    submit(cast.county, programme, people.borrower(household=household), amount="30000.00")
    client_for(client, cast.county)
    response = client.post(
        reverse("applications:create"),
        form_data(programme, people.borrower(household=household), amount="30000"),
    )
    assert response.status_code == 400
    assert response.context["form"].errors["borrower"]
    assert 'data-testid="form-errors"' in response.content.decode()
    assert Application.objects.count() == 1


def test_it_checks_the_shape_of_the_amount(client, cast, programme, people):
    client_for(client, cast.county)
    response = client.post(
        reverse("applications:create"), form_data(programme, people.borrower(), amount="-5")
    )
    assert response.status_code == 400
    assert response.context["form"].errors["amount"]
    assert not Application.objects.exists()


# --- Detail and steps -------------------------------------------------------


def offered(client, application):
    response = client.get(reverse("applications:detail", args=[application.pk]))
    return [s.to_state for s in response.context["forward_steps"] + response.context["stop_steps"]]


def test_the_detail_shows_the_timeline_quota_and_notice(client, cast, programme, people):
    application = approve(cast, submit(cast.township_officer_a, programme, people.borrower()))
    client_for(client, cast.auditor)
    response = client.get(reverse("applications:detail", args=[application.pk]))
    timeline = response.context["timeline"]
    assert [s.to_state for s in timeline] == [
        State.SUBMITTED,
        State.VILLAGE_RECOMMENDED,
        State.TOWNSHIP_REVIEWED,
        State.COUNTY_APPROVED,
    ]
    assert response.context["quota"].quota == Decimal("100000.00")
    content = response.content.decode()
    assert content.count('class="step step-') == 4
    assert "township-officer-a" in content and "county-officer" in content
    assert application.borrower.id_number not in content  # masked for everyone here


def test_each_viewer_is_offered_exactly_their_steps(client, cast, application):
    client_for(client, cast.township_officer_a)
    assert offered(client, application) == [
        State.VILLAGE_RECOMMENDED,
        State.REJECTED,
        State.WITHDRAWN,
    ]
    for who in ("coop", "finance", "auditor"):
        client_for(client, getattr(cast, who))
        assert offered(client, application) == []

    for to_state in (State.VILLAGE_RECOMMENDED, State.TOWNSHIP_REVIEWED):
        application = application_transition(
            actor=cast.township_officer_a, application=application, to_state=to_state
        )
    client_for(client, cast.township_officer_a)
    assert offered(client, application) == [State.REJECTED, State.WITHDRAWN]
    client_for(client, cast.county)
    assert offered(client, application) == [
        State.COUNTY_APPROVED,
        State.REJECTED,
        State.WITHDRAWN,
    ]

    application = application_transition(
        actor=cast.county, application=application, to_state=State.COUNTY_APPROVED
    )
    client_for(client, cast.township_officer_a)
    assert offered(client, application) == []
    client_for(client, cast.county)
    assert offered(client, application) == [State.REJECTED, State.WITHDRAWN]


@pytest.mark.parametrize(
    "state_path",
    [
        [],
        [State.VILLAGE_RECOMMENDED],
        [State.VILLAGE_RECOMMENDED, State.TOWNSHIP_REVIEWED],
        [State.VILLAGE_RECOMMENDED, State.TOWNSHIP_REVIEWED, State.COUNTY_APPROVED],
    ],
)
def test_the_steps_offered_are_the_steps_the_service_accepts(cast, application, state_path):
    for to_state in state_path:
        application = application_transition(
            actor=cast.county, application=application, to_state=to_state
        )
    for who in ("county", "township_officer_a", "township_officer_b", "coop", "finance"):
        user = getattr(cast, who)
        shown = {s.to_state for s in application_steps(user=user, application=application)}
        for to_state in (
            State.VILLAGE_RECOMMENDED,
            State.TOWNSHIP_REVIEWED,
            State.COUNTY_APPROVED,
            State.REJECTED,
            State.WITHDRAWN,
        ):
            accepted = True
            try:
                with transaction.atomic():
                    application_transition(
                        actor=user, application=application, to_state=to_state, comment="理由"
                    )
                    transaction.set_rollback(True)
            except (PermissionDenied, ValidationError):
                accepted = False
            assert (to_state in shown) == accepted, (who, application.state, to_state)


def test_recommending_reviewing_and_approving_record_each_step(client, cast, application):
    client_for(client, cast.township_officer_a)
    response = step(client, application, State.VILLAGE_RECOMMENDED, "村民代表会议推荐")
    assert response.status_code == 302
    assert step(client, application, State.TOWNSHIP_REVIEWED).status_code == 302
    client_for(client, cast.county)
    assert step(client, application, State.COUNTY_APPROVED, "同意").status_code == 302
    application.refresh_from_db()
    assert application.state == State.COUNTY_APPROVED
    assert application.approved_at is not None
    rows = list(application.transitions.values_list("to_state", "actor__username", "comment"))
    assert rows[1:] == [
        (State.VILLAGE_RECOMMENDED, "township-officer-a", "村民代表会议推荐"),
        (State.TOWNSHIP_REVIEWED, "township-officer-a", ""),
        (State.COUNTY_APPROVED, "county-officer", "同意"),
    ]


@pytest.mark.parametrize("to_state", [State.REJECTED, State.WITHDRAWN])
def test_rejecting_or_withdrawing_records_the_reason(client, cast, application, to_state):
    client_for(client, cast.township_officer_a)
    assert step(client, application, to_state, "申请人自愿放弃").status_code == 302
    application.refresh_from_db()
    assert application.state == to_state
    last = application.transitions.last()
    assert (last.to_state, last.comment) == (to_state, "申请人自愿放弃")


def test_a_rejection_without_a_reason_is_refused_and_changes_nothing(client, cast, application):
    client_for(client, cast.township_officer_a)
    response = step(client, application, State.REJECTED, "   ")
    assert response.status_code == 400
    assert response.context["stop_form"].errors["comment"]
    assert 'data-testid="step-errors"' in response.content.decode()
    application.refresh_from_db()
    assert application.state == State.SUBMITTED
    assert application.transitions.count() == 1


def test_a_step_the_state_machine_does_not_allow_is_shown_and_changes_nothing(
    client, cast, application
):
    client_for(client, cast.county)
    response = step(client, application, State.COUNTY_APPROVED)
    assert response.status_code == 400
    assert response.context["step_form"].non_field_errors()
    assert 'data-testid="step-errors"' in response.content.decode()
    application.refresh_from_db()
    assert application.state == State.SUBMITTED
    assert application.transitions.count() == 1


def test_an_approval_above_the_remaining_budget_is_shown_and_changes_nothing(
    client, cast, programme, application
):
    for to_state in (State.VILLAGE_RECOMMENDED, State.TOWNSHIP_REVIEWED):
        application = application_transition(
            actor=cast.county, application=application, to_state=to_state
        )
    Programme.objects.filter(pk=programme.pk).update(budget=Decimal("50000.00"))
    client_for(client, cast.county)
    response = step(client, application, State.COUNTY_APPROVED)
    assert response.status_code == 400
    assert "50,000.00" in response.content.decode()
    application.refresh_from_db()
    assert application.state == State.TOWNSHIP_REVIEWED


@pytest.mark.parametrize(
    ("who", "to_state"),
    [
        ("township_officer_a", State.COUNTY_APPROVED),
        ("coop", State.VILLAGE_RECOMMENDED),
        ("finance", State.VILLAGE_RECOMMENDED),
        ("auditor", State.VILLAGE_RECOMMENDED),
        ("auditor", State.REJECTED),
    ],
)
def test_a_step_the_viewer_may_not_take_is_403(client, cast, application, who, to_state):
    client_for(client, getattr(cast, who))
    if to_state == State.COUNTY_APPROVED:
        for state in (State.VILLAGE_RECOMMENDED, State.TOWNSHIP_REVIEWED):
            application = application_transition(
                actor=cast.county, application=application, to_state=state
            )
    before = application.state
    assert step(client, application, to_state, "理由").status_code == 403
    application.refresh_from_db()
    assert application.state == before


def test_a_step_needs_a_post_and_a_login(client, cast, application, roleless_user):
    url = reverse("applications:transition", args=[application.pk])
    assert client.post(url, {"to_state": State.REJECTED}).status_code == 302
    client_for(client, roleless_user)
    assert client.post(url, {"to_state": State.REJECTED, "comment": "x"}).status_code == 403
    client_for(client, cast.county)
    assert client.get(url).status_code == 405
    assert ApplicationTransition.objects.count() == 1
