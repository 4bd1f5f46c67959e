"""Stored reports: asking for one, generating it in the background,
regenerating it in place, downloading it, and who may do what.

The builders are replaced here by a small one that records what it was
asked to build, so these tests are about the job around any report; the
reports themselves are tested in their own files.
"""

import datetime
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.signals import request_finished
from django.db import close_old_connections
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError

from accounts.models import PersonalDataExport
from reports import services
from reports.builders import BUILDERS, Built
from reports.models import Report
from reports.services import report_generate, report_request
from subsidies.models import SubsidyRun
from subsidies.runs.services import subsidy_run_approve, subsidy_run_start, subsidy_run_submit
from tests.reports.conftest import AFTER_2025

Kind = Report.Kind
Format = Report.Format
State = Report.State
built_for: list[tuple[str, int]] = []


def fake_builder(report, progress):
    progress(10, "reading")
    progress(90, "writing")
    built_for.append((report.key, report.generation))
    return Built(content=f"{report.key} #{report.generation}".encode(), row_count=7)


def broken_builder(report, progress):
    raise ValueError("the ledger is unreadable")


def refusing_builder(report, progress):
    raise ValidationError("Only a submitted, approved or paid run can be noticed.")


@pytest.fixture(autouse=True)
def fake_builders(monkeypatch):
    built_for.clear()
    for key in list(BUILDERS):
        monkeypatch.setitem(BUILDERS, key, "tests.reports.test_report_jobs:fake_builder")


@pytest.fixture
def today():
    return timezone.localdate()


def ask_county(actor, programme, **kwargs):
    return report_request(
        actor=actor,
        kind=Kind.COUNTY,
        format=kwargs.pop("format", Format.PDF),
        programme=programme,
        as_of=kwargs.pop("as_of", datetime.date(2026, 1, 5)),
        **kwargs,
    )


def stored_bytes(report) -> bytes:
    report.refresh_from_db()
    with report.file.open("rb") as handle:
        return handle.read()


def test_a_report_is_generated_stored_and_says_what_it_is_of(cast, programme):
    report = ask_county(cast.county, programme)
    report.refresh_from_db()
    assert report.state == State.DONE
    assert report.progress == 100
    assert report.requested_by == cast.county
    assert report.programme == programme
    assert report.as_of == datetime.date(2026, 1, 5)
    assert report.township is None
    assert report.row_count == 7
    assert stored_bytes(report) == f"{report.key} #1".encode()
    assert report.file_size == len(stored_bytes(report))
    assert report.started_at <= report.finished_at


def test_asking_again_regenerates_in_place_and_replaces_the_file(cast, programme, media_root):
    first = ask_county(cast.county, programme)
    first.refresh_from_db()
    old_path = Path(first.file.path)
    assert old_path.exists()

    again = ask_county(cast.finance, programme)
    again.refresh_from_db()
    assert again.pk == first.pk
    assert again.generation == 2
    assert again.requested_by == cast.finance
    assert stored_bytes(again) == f"{again.key} #2".encode()
    assert Report.objects.count() == 1
    files = [path for path in media_root.rglob("*") if path.is_file()]
    assert files == [Path(again.file.path)], "the old file is deleted once the new one is stored"


def test_another_date_or_format_is_another_report(cast, programme):
    first = ask_county(cast.county, programme)
    other_date = ask_county(cast.county, programme, as_of=datetime.date(2025, 12, 31))
    spreadsheet = ask_county(cast.county, programme, format=Format.XLSX)
    assert len({first.pk, other_date.pk, spreadsheet.pk}) == 3


def test_asking_while_it_is_generated_returns_the_same_generation(cast, programme, monkeypatch):
    monkeypatch.setattr("reports.services._after_commit", lambda callback: None)
    first = ask_county(cast.county, programme)
    second = ask_county(cast.finance, programme)
    assert second.pk == first.pk
    assert second.generation == first.generation == 1
    assert second.requested_by == cast.county
    assert second.state == State.QUEUED


def test_a_generation_lost_for_long_may_be_asked_for_again(cast, programme, monkeypatch):
    monkeypatch.setattr("reports.services._after_commit", lambda callback: None)
    first = ask_county(cast.county, programme)
    Report.objects.filter(pk=first.pk).update(
        state=State.RUNNING, requested_at=timezone.now() - services.STALE_AFTER
    )
    again = ask_county(cast.finance, programme)
    assert again.generation == 2
    assert again.state == State.QUEUED


def test_a_task_of_an_earlier_generation_does_nothing(cast, programme, monkeypatch):
    monkeypatch.setattr("reports.services._after_commit", lambda callback: None)
    report = ask_county(cast.county, programme)
    ask_county_again = Report.objects.filter(pk=report.pk)
    ask_county_again.update(generation=2)
    report_generate(report_id=report.pk, generation=1)
    report.refresh_from_db()
    assert report.state == State.QUEUED
    assert not report.file
    assert built_for == []


def test_a_failing_builder_records_its_error(cast, programme, monkeypatch, client):
    monkeypatch.setitem(
        BUILDERS, (Kind.COUNTY, Format.PDF), "tests.reports.test_report_jobs:broken_builder"
    )
    report = ask_county(cast.county, programme)
    report.refresh_from_db()
    assert report.state == State.FAILED
    assert "the ledger is unreadable" in report.error
    client.force_login(cast.county)
    page = client.get(reverse("reports:detail", args=[report.pk]))
    assert "the ledger is unreadable" in page.content.decode()
    assert status_of(client, reverse("reports:download", args=[report.pk])) == 404


def test_a_rule_the_builder_refuses_on_is_shown_as_its_message(cast, programme, monkeypatch):
    monkeypatch.setitem(
        BUILDERS, (Kind.COUNTY, Format.PDF), "tests.reports.test_report_jobs:refusing_builder"
    )
    report = ask_county(cast.county, programme)
    report.refresh_from_db()
    assert report.state == State.FAILED
    assert report.error == "Only a submitted, approved or paid run can be noticed."


def test_a_broker_that_is_down_fails_the_report_with_a_clear_message(
    cast, programme, monkeypatch, settings
):
    settings.CELERY_TASK_ALWAYS_EAGER = False

    def refuse(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr("common.queue.enqueue", refuse)
    report = ask_county(cast.county, programme)
    report.refresh_from_db()
    assert report.state == State.FAILED
    assert "任务队列不可用" in report.error  # "The task queue is not available"
    assert built_for == []


seen_while_building = []


def watching_builder(report, progress):
    progress(40, "drawing the charts")
    seen_while_building.append(
        Report.objects.values_list("state", "progress", "stage").get(pk=report.pk)
    )
    return Built(content=b"x", row_count=0)


def test_progress_is_written_while_building(cast, programme, monkeypatch):
    seen_while_building.clear()
    monkeypatch.setitem(
        BUILDERS, (Kind.COUNTY, Format.PDF), "tests.reports.test_report_jobs:watching_builder"
    )
    ask_county(cast.county, programme)
    assert seen_while_building == [(State.RUNNING, 40, "drawing the charts")]


# --- What may be asked for ----------------------------------------------------------


def test_the_county_report_needs_a_programme_and_a_past_date(cast, programme, today):
    with pytest.raises(ValidationError) as error:
        report_request(actor=cast.county, kind=Kind.COUNTY, format=Format.PDF, as_of=today)
    assert "programme" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        ask_county(cast.county, programme, as_of=today + datetime.timedelta(days=1))
    assert "as_of" in error.value.message_dict
    assert not Report.objects.exists()


def test_the_notice_has_no_spreadsheet(cast, programme, lend):
    lend()
    run = subsidy_run_start(actor=cast.county, programme=programme, year=2025, today=AFTER_2025)
    subsidy_run_submit(actor=cast.county, run=run)
    with pytest.raises(ValidationError):
        report_request(actor=cast.county, kind=Kind.RUN_NOTICE, format=Format.XLSX, run=run)


@pytest.fixture
def computed_run(cast, programme, lend):
    lend()
    lend(township=cast.township_b, principal="50000.00")
    run = subsidy_run_start(actor=cast.county, programme=programme, year=2025, today=AFTER_2025)
    run.refresh_from_db()
    assert run.state == SubsidyRun.State.COMPUTED, run.error
    return run


def test_a_payout_list_needs_an_approved_run(cast, computed_run):
    with pytest.raises(ValidationError) as error:
        report_request(actor=cast.finance, kind=Kind.PAYOUT, format=Format.PDF, run=computed_run)
    assert "run" in str(error.value) or error.value.messages
    subsidy_run_submit(actor=cast.county, run=computed_run)
    computed_run.refresh_from_db()
    notice = report_request(
        actor=cast.county, kind=Kind.RUN_NOTICE, format=Format.PDF, run=computed_run
    )
    assert notice.state == State.DONE or Report.objects.get(pk=notice.pk).state == State.DONE
    subsidy_run_approve(actor=cast.finance, run=computed_run)
    computed_run.refresh_from_db()
    payout = report_request(
        actor=cast.finance, kind=Kind.PAYOUT, format=Format.PDF, run=computed_run
    )
    payout.refresh_from_db()
    assert payout.state == State.DONE
    assert payout.run_generation == computed_run.generation
    assert payout.programme is None


def test_a_township_officer_gets_their_own_township_only(cast, programme):
    own = ask_county(cast.township_officer_a, programme)
    assert own.township == cast.township_a
    with pytest.raises(PermissionDenied):
        ask_county(cast.township_officer_a, programme, township=cast.township_b)
    county = ask_county(cast.county, programme)
    other = ask_county(cast.county, programme, township=cast.township_b)
    assert list(services.reports_for(cast.township_officer_a)) == [own]
    assert set(services.reports_for(cast.auditor)) == {own, county, other}


@pytest.mark.parametrize("role", ["coop", "roleless"])
def test_who_may_not_ask(cast, programme, role, roleless_user):
    actor = roleless_user if role == "roleless" else cast.coop
    with pytest.raises(PermissionDenied):
        ask_county(actor, programme)


# --- Pages ---------------------------------------------------------------------


def test_the_list_page_asks_for_the_county_report_and_lists_the_files(cast, programme, client):
    client.force_login(cast.county)
    page = client.get(reverse("reports:list"))
    assert page.status_code == 200
    assert 'data-testid="county-report-form"' in page.content.decode()
    response = client.post(
        reverse("reports:request"),
        {"kind": "county", "format": "pdf", "programme": programme.pk, "as_of": "2026-01-05"},
    )
    report = Report.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("reports:detail", args=[report.pk])
    listing = client.get(reverse("reports:list")).content.decode()
    assert reverse("reports:download", args=[report.pk]) in listing


def test_a_bad_request_changes_nothing_and_says_why(cast, programme, client):
    client.force_login(cast.county)
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    response = client.post(
        reverse("reports:request"),
        {"kind": "county", "format": "pdf", "programme": programme.pk, "as_of": str(tomorrow)},
    )
    assert response.status_code == 400
    assert 'data-testid="error-as_of"' in response.content.decode()
    assert not Report.objects.exists()


def test_the_run_page_offers_the_run_reports_by_state(cast, computed_run, client):
    client.force_login(cast.county)
    url = reverse("subsidies:run", args=[computed_run.pk])
    html = client.get(url).content.decode()
    assert 'data-testid="request-payout-pdf"' not in html
    subsidy_run_submit(actor=cast.county, run=computed_run)
    computed_run.refresh_from_db()
    html = client.get(url).content.decode()
    assert 'data-testid="request-run_notice-pdf"' in html
    assert 'data-testid="request-payout-pdf"' not in html
    subsidy_run_approve(actor=cast.finance, run=computed_run)
    computed_run.refresh_from_db()
    client.force_login(cast.finance)
    html = client.get(url).content.decode()
    assert 'data-testid="request-payout-pdf"' in html
    assert 'data-testid="request-payout-xlsx"' in html
    assert 'name="township"' in html
    response = client.post(
        reverse("reports:request"), {"report": "payout:xlsx", "run": computed_run.pk}
    )
    report = Report.objects.get()
    assert (report.kind, report.format, report.run) == ("payout", "xlsx", computed_run)
    assert response.url == reverse("reports:detail", args=[report.pk])
    assert f'data-testid="run-report-{report.pk}"' in client.get(url).content.decode()


def test_downloading_a_payout_list_is_logged_the_county_report_is_not(
    cast, computed_run, programme, client
):
    subsidy_run_submit(actor=cast.county, run=computed_run)
    computed_run.refresh_from_db()
    subsidy_run_approve(actor=cast.finance, run=computed_run)
    computed_run.refresh_from_db()
    payout = report_request(
        actor=cast.finance, kind=Kind.PAYOUT, format=Format.PDF, run=computed_run
    )
    county = ask_county(cast.finance, programme)
    client.force_login(cast.finance)

    response = client.get(reverse("reports:download", args=[county.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == stored_bytes(county)
    close(response)
    assert not PersonalDataExport.objects.exists()

    response = client.get(reverse("reports:download", args=[payout.pk]))
    assert response.status_code == 200
    close(response)
    assert response["Content-Type"] == "application/pdf"
    assert "attachment" in response["Content-Disposition"]
    assert "filename*=utf-8''" in response["Content-Disposition"]
    log = PersonalDataExport.objects.get()
    assert log.user == cast.finance
    assert log.row_count == 7
    assert str(payout.pk) in log.what


def test_the_progress_url_answers_for_the_bar(cast, programme, client, monkeypatch):
    monkeypatch.setattr("reports.services._after_commit", lambda callback: None)
    report = ask_county(cast.county, programme)
    Report.objects.filter(pk=report.pk).update(state=State.RUNNING, progress=35, stage="layout")
    client.force_login(cast.county)
    page = client.get(reverse("reports:detail", args=[report.pk])).content.decode()
    assert 'data-testid="progress-bar"' in page
    assert "js/progress.js" in page
    data = client.get(reverse("reports:progress", args=[report.pk])).json()
    assert data == {
        "state": "running",
        "state_label": str(State.RUNNING.label),
        "done": 35,
        "total": 100,
        "percent": 35,
        "stage": "layout",
        "finished": False,
    }


def close(response) -> None:
    """Close a download's file handle. Closing a response signals the end of
    a request, which would close the test's database connection (the test
    client keeps that signal off only while it handles a request)."""
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)


def status_of(client, url) -> int:
    response = client.get(url)
    close(response)
    return response.status_code


def test_access_to_the_pages(cast, programme, client):
    county_wide = ask_county(cast.county, programme)
    own = ask_county(cast.township_officer_b, programme)
    urls = lambda report: [  # noqa: E731
        reverse(name, args=[report.pk])
        for name in ("reports:detail", "reports:progress", "reports:download")
    ]
    expected = {
        cast.county: (200, 200),
        cast.finance: (200, 200),
        cast.auditor: (200, 200),
        cast.township_officer_a: (404, 404),
        cast.township_officer_b: (404, 200),
        cast.coop: (403, 403),
    }
    for user, (for_county, for_own) in expected.items():
        client.force_login(user)
        assert client.get(reverse("reports:list")).status_code == (
            403 if user == cast.coop else 200
        )
        for url in urls(county_wide):
            assert status_of(client, url) == for_county, (user, url)
        for url in urls(own):
            assert status_of(client, url) == for_own, (user, url)
    client.logout()
    response = client.get(reverse("reports:list"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
