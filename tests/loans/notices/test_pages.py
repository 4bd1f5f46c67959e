"""The public notice pages: list, publishing, a notice with its objections,
release, and the printable PDF."""

import datetime
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from loans.applications.services import application_transition
from loans.models import Application, Objection, PublicNotice
from loans.notices.services import notice_publish, objection_record
from tests.loans.applications.test_flow import submit
from tests.pdf import pdf_text

State = Application.State
STAFF = ["county", "township_officer_a", "coop", "finance", "auditor"]
RESIDENT_ID = re.compile(r"\d{17}[\dXx]")
MOBILE = re.compile(r"1[3-9]\d{9}")


def client_for(client, user):
    client.force_login(user)
    return client


def days_ago(days: int) -> datetime.date:
    return timezone.localdate() - datetime.timedelta(days=days)


@pytest.fixture
def approved(cast, programme, people):
    """Two approved applications in 联珠镇 and one in 通关镇."""
    wang = people.borrower()
    wang.name = "王建国"
    wang.save()
    zhao = people.borrower(title="group_leader")
    zhao.name = "赵丽"
    zhao.save()
    chen = people.borrower(township=cast.township_b)
    chen.name = "陈志强"
    chen.save()
    return [
        approve(cast, submit(cast.county, programme, wang, amount="100000.00")),
        approve(cast, submit(cast.county, programme, zhao, amount="45000.00")),
        approve(cast, submit(cast.county, programme, chen, amount="80000.00")),
    ]


@pytest.fixture
def notice(cast, programme, approved):
    """A notice whose period is over (it started 11 days ago)."""
    return notice_publish(actor=cast.county, programme=programme, starts_on=days_ago(11))


def approve(cast, application):
    """Recommend, review and approve as the county (any township)."""
    for to_state in (State.VILLAGE_RECOMMENDED, State.TOWNSHIP_REVIEWED, State.COUNTY_APPROVED):
        application = application_transition(
            actor=cast.county, application=application, to_state=to_state
        )
    return application


def entry_of(application):
    application.refresh_from_db()
    return application.notice_entry


# --- Who may see what -------------------------------------------------------


@pytest.mark.parametrize("who", STAFF)
def test_staff_see_the_notices(client, cast, notice, who):
    client_for(client, getattr(cast, who))
    assert client.get(reverse("notices:list")).status_code == 200
    assert client.get(reverse("notices:detail", args=[notice.pk])).status_code == 200


def test_it_refuses_a_user_with_no_role_and_sends_visitors_to_log_in(client, roleless_user, notice):
    urls = [
        reverse("notices:list"),
        reverse("notices:create"),
        reverse("notices:detail", args=[notice.pk]),
        reverse("notices:pdf", args=[notice.pk]),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))
    client_for(client, roleless_user)
    for url in urls:
        assert client.get(url).status_code == 403


def test_a_township_officer_sees_only_their_townships_entries(client, cast, notice, approved):
    client_for(client, cast.township_officer_b)
    response = client.get(reverse("notices:detail", args=[notice.pk]))
    assert [entry.application for entry in response.context["entries"]] == [approved[2]]
    listed = client.get(reverse("notices:list")).context["notices"]
    assert [n.entry_count for n in listed] == [1]


def test_a_notice_without_the_officers_township_is_404(client, cast, programme, people):
    application = approve(cast, submit(cast.county, programme, people.borrower()))
    notice = notice_publish(
        actor=cast.county, programme=programme, starts_on=days_ago(0), applications=[application]
    )
    client_for(client, cast.township_officer_b)
    assert client.get(reverse("notices:detail", args=[notice.pk])).status_code == 404
    assert client.get(reverse("notices:pdf", args=[notice.pk])).status_code == 404
    assert client.get(reverse("notices:list")).context["notices"] == []


# --- The list ---------------------------------------------------------------


def test_the_list_counts_entries_released_and_objected(client, cast, notice, approved):
    objection_record(
        actor=cast.county, entry=entry_of(approved[0]), raised_by="村民", content="不在任"
    )
    client_for(client, cast.county)
    client.post(reverse("notices:release"))
    (listed,) = client.get(reverse("notices:list")).context["notices"]
    assert (listed.entry_count, listed.released_count, listed.objected_count) == (3, 2, 1)
    assert listed.status == "over"


def test_notice_status_reads_running_over_and_closed(client, cast, programme, people, approved):
    running = notice_publish(
        actor=cast.county, programme=programme, starts_on=days_ago(2), applications=approved[:1]
    )
    over = notice_publish(
        actor=cast.county, programme=programme, starts_on=days_ago(12), applications=approved[1:2]
    )
    closed = notice_publish(
        actor=cast.county, programme=programme, starts_on=days_ago(30), applications=approved[2:]
    )
    PublicNotice.objects.filter(pk=closed.pk).update(closed_at=timezone.now())
    client_for(client, cast.county)
    response = client.get(reverse("notices:list"))
    status = {n.pk: n.status for n in response.context["notices"]}
    assert status == {running.pk: "running", over.pk: "over", closed.pk: "closed"}
    assert response.context["any_due"]


# --- Publishing -------------------------------------------------------------


@pytest.mark.parametrize("who", ["township_officer_a", "coop", "finance", "auditor"])
def test_only_the_county_publishes(client, cast, programme, approved, who):
    client_for(client, getattr(cast, who))
    assert client.get(reverse("notices:create")).status_code == 403
    response = client.post(
        reverse("notices:create"), {"programme": programme.pk, "starts_on": "2026-01-05"}
    )
    assert response.status_code == 403
    assert not PublicNotice.objects.exists()


def test_publishing_shows_the_approved_applications_then_puts_them_in_notice(
    client, cast, programme, approved
):
    client_for(client, cast.county)
    response = client.get(reverse("notices:create"), {"programme": programme.pk})
    assert response.status_code == 200
    assert set(response.context["waiting"]) == set(approved)
    assert response.context["waiting_total"] == Decimal("225000.00")
    assert response.context["form"].fields["starts_on"].initial() == timezone.localdate()

    response = client.post(
        reverse("notices:create"), {"programme": programme.pk, "starts_on": "2026-01-05"}
    )
    notice = PublicNotice.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("notices:detail", args=[notice.pk])
    assert (notice.starts_on, notice.ends_on) == (
        datetime.date(2026, 1, 5),
        datetime.date(2026, 1, 14),
    )
    assert notice.created_by == cast.county
    for application in approved:
        application.refresh_from_db()
        assert application.state == State.IN_NOTICE
        assert application.transitions.last().to_state == State.IN_NOTICE


def test_publishing_with_nothing_approved_says_so_and_changes_nothing(client, cast, programme):
    client_for(client, cast.county)
    response = client.post(
        reverse("notices:create"), {"programme": programme.pk, "starts_on": "2026-01-05"}
    )
    assert response.status_code == 400
    assert response.context["form"].non_field_errors()
    assert not PublicNotice.objects.exists()


def test_publishing_needs_a_first_day(client, cast, programme, approved):
    client_for(client, cast.county)
    response = client.post(reverse("notices:create"), {"programme": programme.pk})
    assert response.status_code == 400
    assert response.context["form"].errors["starts_on"]
    assert not PublicNotice.objects.exists()


# --- The notice page --------------------------------------------------------


def test_the_notice_shows_name_village_category_industry_and_amount_only(
    client, cast, notice, approved
):
    client_for(client, cast.county)
    content = client.get(reverse("notices:detail", args=[notice.pk])).content.decode()
    for name in ("王建国", "赵丽", "陈志强"):
        assert name in content
    assert "碧溪村" in content and "生猪" in content
    assert "100,000.00" in content and "225,000.00" in content
    for application in approved:
        assert application.borrower.id_number not in content
        assert application.borrower.household.head_id_number not in content
    assert not MOBILE.search(content)
    assert not RESIDENT_ID.search(content)


def test_officers_record_objections_in_their_township(client, cast, notice, approved):
    entry = entry_of(approved[0])
    url = reverse("notices:objection_add", args=[notice.pk, entry.pk])
    data = {"entry-%d-raised_by" % entry.pk: "村民李某", "entry-%d-content" % entry.pk: "未在任"}
    client_for(client, cast.township_officer_a)
    response = client.post(url, data)
    assert response.status_code == 302
    assert response.url.endswith("#entry-%d" % entry.pk)
    objection = Objection.objects.get()
    assert (objection.entry, objection.raised_by, objection.recorded_by) == (
        entry,
        "村民李某",
        cast.township_officer_a,
    )
    client_for(client, cast.county)
    assert client.post(url, data).status_code == 302
    assert Objection.objects.count() == 2


def test_an_objection_from_outside_the_township_is_refused(client, cast, notice, approved):
    entry = entry_of(approved[0])
    url = reverse("notices:objection_add", args=[notice.pk, entry.pk])
    data = {"entry-%d-raised_by" % entry.pk: "某人", "entry-%d-content" % entry.pk: "有异议"}
    client_for(client, cast.township_officer_b)
    assert client.post(url, data).status_code == 404
    for who in ("coop", "finance", "auditor"):
        client_for(client, getattr(cast, who))
        assert client.post(url, data).status_code == 403
    assert not Objection.objects.exists()


def test_an_empty_objection_is_refused_on_its_field(client, cast, notice, approved):
    entry = entry_of(approved[0])
    client_for(client, cast.township_officer_a)
    response = client.post(
        reverse("notices:objection_add", args=[notice.pk, entry.pk]),
        {"entry-%d-raised_by" % entry.pk: "村民李某", "entry-%d-content" % entry.pk: ""},
    )
    assert response.status_code == 400
    (shown,) = [e for e in response.context["entries"] if e.pk == entry.pk]
    assert shown.objection_form.errors["content"]
    assert not Objection.objects.exists()


def test_only_officers_see_the_objection_forms(client, cast, notice):
    client_for(client, cast.auditor)
    response = client.get(reverse("notices:detail", args=[notice.pk]))
    assert all(entry.objection_form is None for entry in response.context["entries"])
    client_for(client, cast.township_officer_a)
    response = client.get(reverse("notices:detail", args=[notice.pk]))
    assert all(entry.objection_form is not None for entry in response.context["entries"])


def resolve(client, notice, objection, outcome, resolution="经核实"):
    prefix = "objection-%d-" % objection.pk
    return client.post(
        reverse("notices:objection_resolve", args=[notice.pk, objection.pk]),
        {prefix + "outcome": outcome, prefix + "resolution": resolution},
    )


@pytest.fixture
def objection(cast, notice, approved):
    return objection_record(
        actor=cast.township_officer_a,
        entry=entry_of(approved[0]),
        raised_by="村民李某",
        content="借款人已不在村委任职",
    )


def test_the_county_resolves_an_objection_not_upheld(client, cast, notice, objection):
    client_for(client, cast.county)
    assert resolve(client, notice, objection, "not_upheld", "经核实仍在任").status_code == 302
    objection.refresh_from_db()
    assert (objection.is_open, objection.upheld, objection.resolution) == (
        False,
        False,
        "经核实仍在任",
    )
    assert objection.entry.application.state == State.IN_NOTICE


def test_an_upheld_objection_rejects_the_application(client, cast, notice, objection):
    client_for(client, cast.county)
    assert resolve(client, notice, objection, "upheld", "情况属实").status_code == 302
    application = Application.objects.get(pk=objection.entry.application_id)
    assert application.state == State.REJECTED
    last = application.transitions.last()
    assert (last.to_state, last.actor) == (State.REJECTED, cast.county)
    assert "情况属实" in last.comment


def test_resolving_needs_the_county_and_a_resolution(client, cast, notice, objection):
    client_for(client, cast.township_officer_a)
    assert resolve(client, notice, objection, "upheld").status_code == 403
    client_for(client, cast.county)
    response = resolve(client, notice, objection, "upheld", "")
    assert response.status_code == 400
    objection.refresh_from_db()
    assert objection.is_open
    assert objection.entry.application.state == State.IN_NOTICE


# --- Release ----------------------------------------------------------------


def test_release_sends_entries_without_open_objections_to_the_coop(
    client, cast, notice, approved, objection
):
    client_for(client, cast.county)
    response = client.post(
        reverse("notices:release"), {"next": reverse("notices:detail", args=[notice.pk])}
    )
    assert response.status_code == 302
    assert response.url == reverse("notices:detail", args=[notice.pk])
    states = {a.pk: Application.objects.get(pk=a.pk).state for a in approved}
    assert states == {
        approved[0].pk: State.IN_NOTICE,  # held back by the open objection
        approved[1].pk: State.RELEASED,
        approved[2].pk: State.RELEASED,
    }
    released = Application.objects.get(pk=approved[1].pk).transitions.last()
    assert (released.to_state, released.actor) == (State.RELEASED, cast.county)
    notice.refresh_from_db()
    assert notice.closed_at is None  # one entry still in notice

    resolve(client, notice, objection, "not_upheld", "经核实仍在任")
    client.post(reverse("notices:release"))
    assert Application.objects.get(pk=approved[0].pk).state == State.RELEASED
    notice.refresh_from_db()
    assert notice.closed_at is not None


def test_release_leaves_a_running_notice_alone(client, cast, programme, approved):
    running = notice_publish(actor=cast.county, programme=programme, starts_on=days_ago(3))
    client_for(client, cast.county)
    response = client.post(reverse("notices:release"), follow=True)
    assert "loans/notices/list.html" in [t.name for t in response.templates]
    assert all(entry.application.state == State.IN_NOTICE for entry in running.entries.all())


@pytest.mark.parametrize("who", ["township_officer_a", "coop", "finance", "auditor"])
def test_only_the_county_releases(client, cast, notice, who):
    client_for(client, getattr(cast, who))
    assert client.post(reverse("notices:release")).status_code == 403
    assert not Application.objects.filter(state=State.RELEASED).exists()


def test_the_release_button_shows_once_the_period_is_over(client, cast, notice):
    client_for(client, cast.county)
    response = client.get(reverse("notices:detail", args=[notice.pk]))
    assert response.context["may_release"]
    assert 'data-testid="release"' in response.content.decode()
    client_for(client, cast.township_officer_a)
    response = client.get(reverse("notices:detail", args=[notice.pk]))
    assert not response.context["may_release"]


# --- The PDF ----------------------------------------------------------------


def test_the_pdf_lists_names_and_amounts_and_no_id_or_phone(client, cast, notice, tmp_path):
    client_for(client, cast.county)
    response = client.get(reverse("notices:pdf", args=[notice.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    text = pdf_text(response.content)
    for name in ("王建国", "赵丽", "陈志强", "联珠镇", "通关镇", "碧溪村"):
        assert name in text
    for amount in ("100,000.00", "45,000.00", "80,000.00", "225,000.00"):
        assert amount in text
    assert "振兴贷" in text
    assert notice.starts_on.strftime("%Y") in text
    assert "县委组织部" in text
    compact = re.sub(r"\s+", "", text)
    assert "第1页共1页" in compact
    assert not RESIDENT_ID.search(compact)
    assert not MOBILE.search(compact)


def test_a_township_officers_pdf_holds_their_township_only(client, cast, notice, tmp_path):
    client_for(client, cast.township_officer_b)
    text = pdf_text(client.get(reverse("notices:pdf", args=[notice.pk])).content)
    assert "陈志强" in text
    assert "王建国" not in text
