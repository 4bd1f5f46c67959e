"""The auditor's change history page (accounts/history_views.py): who may
open it, searching by person, record, user and date, masking, paging, the
query count, and the CSV and xlsx exports with their log."""

import csv
import datetime
import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.text import capfirst
from openpyxl import load_workbook

from accounts.history import views as history_views
from accounts.history.selectors import HistoryFilter, history_rows, history_search
from accounts.models import PersonalDataExport
from beneficiaries.models import Borrower, Household, Position
from common.history import historical_models
from common.masking import mask_phone
from loans.models import Application
from tests.beneficiaries import factories
from tests.beneficiaries.registry.test_borrower_pages import edit_data
from tests.history.conftest import logged_in
from tests.loans.applications.test_flow import submit

LIST = reverse("history:list")
IP = "10.9.0.7"
NEW_PHONE = "13900001111"


@pytest.fixture
def registry(cast, programme, client):
    """small_registry's three borrowers; 张建国's phone changed on the edit
    page by his township's officer, and an application submitted for him."""
    registry = factories.small_registry(cast)
    zhang = registry.zhang
    registry.old_phone = zhang.phone
    logged_in(client, cast.township_officer_a).post(
        reverse("borrowers:edit", args=[zhang.pk]),
        edit_data(zhang, phone=NEW_PHONE),
        REMOTE_ADDR=IP,
    )
    client.logout()
    registry.application = submit(cast.township_officer_a, programme, zhang)
    return registry


def records_on(response) -> list[tuple[str, int]]:
    """(model label, record id) of each row of the results table."""
    html = response.content.decode()
    return [(label, int(pk)) for label, pk in re.findall(r'<tr data-record="([\w.]+):(\d+)"', html)]


def total_rows() -> int:
    return sum(model.objects.count() for model in historical_models())


# Who may ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "who, status",
    [
        ("auditor", 200),
        ("county", 200),
        ("township_officer_a", 403),
        ("township_officer_b", 403),
        ("coop", 403),
        ("finance", 403),
    ],
)
def test_the_auditor_and_the_county_office_may_read_and_export_and_nobody_else(
    client, cast, who, status
):
    client = logged_in(client, getattr(cast, who))
    assert client.get(LIST).status_code == status
    for fmt in ("csv", "xlsx"):
        assert client.get(reverse("history:export", args=[fmt])).status_code == status
    home = client.get(reverse("home")).content.decode()
    assert (LIST in home) == (status == 200)


def test_a_user_without_a_role_is_refused_and_a_visitor_sent_to_log_in(client, db, roleless_user):
    for url in (LIST, reverse("history:export", args=["csv"])):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    client.force_login(roleless_user)
    assert client.get(LIST).status_code == 403


def test_an_unknown_export_format_is_a_404(client, cast):
    assert logged_in(client, cast.auditor).get("/history/export.pdf").status_code == 404


# What a row says ---------------------------------------------------------------------------


def test_a_row_says_when_who_where_which_record_and_what_changed(client, cast, registry):
    zhang = registry.zhang
    response = logged_in(client, cast.auditor).get(
        LIST, {"model": "beneficiaries.borrower", "record": zhang.pk}
    )
    assert records_on(response) == [("beneficiaries.borrower", zhang.pk)] * 2
    html = response.content.decode()
    edit_row = html[html.index('<tr data-record="beneficiaries.borrower') :]
    edit_row = edit_row[: edit_row.index("</td>\n    </tr>")]
    change = Borrower.history.filter(id=zhang.pk).latest()
    local = timezone.localtime(change.history_date)
    assert local.strftime("%Y-%m-%d") in edit_row and local.strftime("%H:%M:%S") in edit_row
    assert "township-officer-a" in edit_row
    assert IP in edit_row
    assert "#%d" % zhang.pk in edit_row and "张建国" in edit_row
    assert "change-changed" in edit_row
    phone_row = re.search(r"<tr><th scope=\"row\">([^<]+)</th>(.*?)</tr>", edit_row).group(0)
    assert registry.old_phone in phone_row and NEW_PHONE in phone_row
    assert phone_row.index(registry.old_phone) < phone_row.index(NEW_PHONE)
    assert edit_row.count('<th scope="row">') == 1, "only the phone changed"
    # The creation lists what was recorded, by whom.
    created_row = html[html.rindex('<tr data-record="beneficiaries.borrower') :]
    assert "change-created" in created_row and "county-officer" in created_row
    assert zhang.id_number in created_row


def test_numbers_are_masked_for_a_user_who_may_not_see_them_whole(
    client, cast, registry, monkeypatch
):
    zhang = registry.zhang
    search = HistoryFilter(model="beneficiaries.borrower", record=zhang.pk)
    keys = list(history_search(search))
    edit, creation = history_rows(keys, show_personal_data=False)
    (phone,) = edit.changes
    assert (phone.old, phone.new) == (mask_phone(registry.old_phone), mask_phone(NEW_PHONE))
    shown = {change.label: change.new for change in creation.changes}
    label = capfirst(Borrower._meta.get_field("id_number").verbose_name)
    assert shown[label] == zhang.id_number[:4] + "*" * 10 + zhang.id_number[-4:]
    assert zhang.id_number not in str(creation.changes)

    # Through the page, for a user without view_personal_data.
    monkeypatch.setattr(history_views, "PERSONAL_DATA", "beneficiaries.no_such_permission")
    html = (
        logged_in(client, cast.auditor)
        .get(LIST, {"model": "beneficiaries.borrower", "record": zhang.pk})
        .content.decode()
    )
    assert NEW_PHONE not in html and zhang.id_number not in html
    assert mask_phone(NEW_PHONE) in html


def test_rows_come_newest_first_with_every_change_of_every_kind_of_record(client, cast, registry):
    response = logged_in(client, cast.auditor).get(LIST)
    assert response.context["page"].paginator.count == total_rows()
    rows = response.context["rows"]
    assert [row.when for row in rows] == sorted((row.when for row in rows), reverse=True)
    labels = {row.model_label for row in rows}
    assert {"beneficiaries.borrower", "loans.application"} <= labels


# Searching ---------------------------------------------------------------------------------


def person_records(borrower, application) -> set[tuple[str, int]]:
    """What belongs to a borrower, read from the database."""
    records = {("beneficiaries.borrower", borrower.pk)}
    records |= {("beneficiaries.household", borrower.household_id)}
    records |= {
        ("beneficiaries.position", p.pk) for p in Position.objects.filter(borrower=borrower)
    }
    if application is not None:
        records.add(("loans.application", application.pk))
    return records


@pytest.mark.parametrize("term", ["张建国", "建国", "id_number", "phone"])
def test_a_person_is_found_by_name_id_or_mobile_number_with_their_records(
    client, cast, registry, term
):
    zhang = registry.zhang
    zhang.refresh_from_db()
    value = {"id_number": zhang.id_number, "phone": NEW_PHONE}.get(term, term)
    response = logged_in(client, cast.auditor).get(LIST, {"person": value})
    found = records_on(response)
    assert set(found) == person_records(zhang, registry.application)
    expected_rows = (
        Borrower.history.filter(id=zhang.pk).count()
        + Household.history.filter(id=zhang.household_id).count()
        + Position.history.filter(borrower_id=zhang.pk).count()
        + Application.history.filter(id=registry.application.pk).count()
    )
    assert len(found) == expected_rows


def test_a_person_is_found_by_a_name_they_no_longer_have(client, cast, registry):
    li = registry.li
    li.name = "李秀华"
    li._history_user = cast.county
    li.save()
    response = logged_in(client, cast.auditor).get(LIST, {"person": "李秀英"})
    assert set(records_on(response)) == person_records(li, None)
    assert ("beneficiaries.borrower", registry.zhang.pk) not in records_on(response)


def test_the_search_by_user_finds_every_change_they_made_and_no_other(client, cast, registry):
    officer = cast.township_officer_a
    response = logged_in(client, cast.auditor).get(LIST, {"user": officer.pk})
    rows = response.context["rows"]
    expected = sum(
        model.objects.filter(history_user=officer).count() for model in historical_models()
    )
    assert expected >= 2  # the borrower edited, the application submitted
    assert response.context["page"].paginator.count == len(rows) == expected
    assert {row.user for row in rows} == {officer}


def test_the_search_by_date_takes_both_days_whole(client, cast, registry):
    wang = registry.wang

    def change_on(day, hour, minute, scale):
        wang.scale = scale
        wang._history_user = cast.county
        wang._history_date = timezone.make_aware(datetime.datetime(*day, hour, minute))
        wang.save()

    change_on((2024, 5, 31), 23, 59, 10)
    change_on((2024, 6, 1), 0, 0, 11)
    change_on((2024, 6, 30), 23, 59, 12)
    change_on((2024, 7, 1), 0, 0, 13)
    client = logged_in(client, cast.auditor)
    response = client.get(
        LIST,
        {"date_from": "2024-06-01", "date_to": "2024-06-30", "model": "beneficiaries.borrower"},
    )
    assert [row.changes[0].new for row in response.context["rows"]] == ["12.00", "11.00"]
    response = client.get(LIST, {"date_to": "2024-05-31"})
    assert [row.record_id for row in response.context["rows"]] == [wang.pk]


def test_a_record_number_needs_its_kind_and_the_days_their_order(client, cast, registry):
    client = logged_in(client, cast.auditor)
    response = client.get(LIST, {"record": registry.zhang.pk})
    assert response.status_code == 200
    assert "model" in response.context["form"].errors
    assert response.context["rows"] == []
    response = client.get(LIST, {"date_from": "2025-02-01", "date_to": "2025-01-01"})
    assert "date_to" in response.context["form"].errors
    response = client.get(reverse("history:export", args=["csv"]), {"record": "1"}, follow=True)
    assert not PersonalDataExport.objects.exists()
    assert "Correct the search" in response.content.decode() or "更正" in response.content.decode()


# Paging and queries ----------------------------------------------------------------------------


def scale_changes(actor, borrower, count: int) -> None:
    for number in range(count):
        borrower.scale = 100 + number
        borrower._history_user = actor
        borrower.save()


def test_the_results_are_paged_by_fifty_keeping_the_search(client, cast, registry):
    scale_changes(cast.county, registry.wang, 60)
    client = logged_in(client, cast.auditor)
    search = {"model": "beneficiaries.borrower", "record": registry.wang.pk}
    first = client.get(LIST, search)
    count = Borrower.history.filter(id=registry.wang.pk).count()
    assert count == 61
    assert len(first.context["rows"]) == 50
    assert "page=2" in first.content.decode()
    assert "record=%d" % registry.wang.pk in first.content.decode()
    second = client.get(LIST, {**search, "page": 2})
    assert len(second.context["rows"]) == 11
    seen = {row.when for row in first.context["rows"]} | {
        row.when for row in second.context["rows"]
    }
    assert len(seen) == 61


def test_a_page_costs_the_same_queries_for_few_rows_or_fifty(client, cast, registry):
    officer = cast.township_officer_b
    application = registry.application
    borrowers = [registry.zhang, registry.li, registry.wang]

    def changes(count: int) -> None:
        """Alternately a borrower's scale and the application's purpose."""
        for number in range(count):
            record = application if number % 2 else borrowers[number % 3]
            if record is application:
                record.purpose = "扩大养殖 %d" % number
            else:
                record.scale = 100 + number
            record._history_user = officer
            record.save()

    client = logged_in(client, cast.auditor)
    client.get(LIST)

    def queries() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as context:
            response = client.get(LIST, {"user": officer.pk})
        assert response.status_code == 200
        return len(context), len(response.context["rows"])

    changes(4)
    few, rows = queries()
    assert rows == 4
    changes(60)
    many, rows = queries()
    assert rows == 50
    assert many == few


# Exports ----------------------------------------------------------------------------------------


def test_the_csv_export_holds_every_row_found_and_is_logged(client, cast, registry):
    client = logged_in(client, cast.auditor)
    search = {"person": "张建国"}
    listed = client.get(LIST, search).context["page"].paginator.count
    response = client.get(reverse("history:export", args=["csv"]), search, REMOTE_ADDR=IP)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    assert len(header) == 8
    assert len(body) == listed
    edit = next(row for row in body if NEW_PHONE in row[6])
    assert edit[1] == "township-officer-a" and edit[2] == IP
    assert "%s → %s" % (registry.old_phone, NEW_PHONE) in edit[6]
    (log,) = PersonalDataExport.objects.all()
    assert (log.user, log.ip_address, log.row_count) == (cast.auditor, IP, listed)
    assert "person=张建国" in log.filters


def test_the_xlsx_export_keeps_text_as_text(client, cast, registry):
    zhang = registry.zhang
    zhang.entity_description = '=HYPERLINK("http://example.com")'
    zhang._history_user = cast.county
    zhang.save()
    client = logged_in(client, cast.county)
    search = {"model": "beneficiaries.borrower", "record": zhang.pk}
    response = client.get(reverse("history:export", args=["xlsx"]), search)
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    values = list(sheet.values)
    assert len(values) == 1 + Borrower.history.filter(id=zhang.pk).count()
    newest = values[1]
    assert newest[1] == "county-officer"
    assert '=HYPERLINK("http://example.com")' in newest[6]
    assert all(cell.data_type == "s" for cell in sheet[2] if cell.value)
    assert PersonalDataExport.objects.get().row_count == len(values) - 1


def test_an_export_too_big_is_refused_with_a_message(client, cast, registry, monkeypatch):
    monkeypatch.setattr(history_views, "EXPORT_LIMIT", 3)
    response = logged_in(client, cast.auditor).get(
        reverse("history:export", args=["csv"]), {"person": "张建国"}
    )
    assert response.status_code == 302
    assert response["Location"].startswith(LIST) and "person=" in response["Location"]
    assert not PersonalDataExport.objects.exists()
