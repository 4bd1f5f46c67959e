"""Redis stops: the pages and the API keep answering, starting a job (a
subsidy run's computation, a report) says plainly that the task queue is
down and leaves nothing half-done; once Redis is back the same buttons
start the job again and a real worker completes it.

Redis here is a server of the test's own (tests/faults/brokers.py), killed
and started again on the same port; the web side's pooled connections are
not reset in between, as in a web process that lives through the outage.
"""

import datetime
import time

import pytest
from django.conf import settings as django_settings
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import translation

from demo.loan_book import PRINCIPAL, loan_book_create
from loans.keys.services import api_key_issue
from loans.models import LedgerEntry, Loan, Programme
from reports.models import Report
from subsidies.models import SubsidyLine, SubsidyRun, SubsidyRunPart
from subsidies.runs.services import _compute_township
from tests.faults.brokers import RedisServer, celery_on
from tests.loans.conftest import mojiang_coop
from tests.pdf import pdf_text
from tests.workers import start_worker, wait_for
from zhenxingdai.celery import app as celery_app
from zhenxingdai.celery import ping

LOANS = 24
# How long a button may take to say the queue is down. Publishing gives up
# after a few quick retries, but Celery's Redis result backend (subscribed
# to for every task sent) retries 20 times, 1 s apart, before giving up:
# some 19 s unless CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS shortens it.
PATIENCE = 30.0

PAGES = [
    "/",
    "/registry/borrowers/",
    "/applications/",
    "/loans/",
    "/programmes/",
    "/subsidies/",
    "/reports/",
]


SUBSIDY_QUEUE_DOWN = (
    "The task queue is not available, so the computation was not started (%(error)s). "
)
REPORT_QUEUE_DOWN = "The task queue is not available, so the report was not started (%(error)s). "


def queue_down(msgid: str) -> str:
    """The start of the message, in the language the pages were shown in."""
    with translation.override(django_settings.LANGUAGE_CODE):
        return translation.gettext(msgid).split("%(error)s")[0]


def page_messages(response) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]


def timed(call):
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


def while_redis_is_down(client, key, programme, report_form):
    """Pages, the API and both buttons with the broker gone."""
    # Pages and the API answer as before; only the health probe tells.
    for path in PAGES:
        response, seconds = timed(lambda path=path: client.get(path))
        assert response.status_code == 200, path
        assert seconds < 5, (path, seconds)
    api = client.get("/api/v1/loans/", HTTP_AUTHORIZATION="Token " + key)
    assert api.status_code == 200 and len(api.json()["results"]) == LOANS
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.json()["broker"]["ok"] is False
    assert health.json()["database"]["ok"] is True

    # Starting the subsidy run: a clear message, the run failed (so the
    # county may compute it again), not a line or part written.
    response, seconds = timed(
        lambda: client.post(reverse("subsidies:start"), {"programme": programme.pk, "year": 2025})
    )
    assert seconds < PATIENCE, seconds
    run = SubsidyRun.objects.get(programme=programme, year=2025)
    assert response.status_code == 302
    assert response.url == reverse("subsidies:run", args=[run.pk])
    assert run.state == SubsidyRun.State.FAILED
    assert run.error.startswith(queue_down(SUBSIDY_QUEUE_DOWN)), run.error
    (level, message), *others = page_messages(response)
    assert (level, message) == ("error", run.error) and not others
    assert not SubsidyLine.objects.exists() and not SubsidyRunPart.objects.exists()
    page = client.get(reverse("subsidies:run", args=[run.pk])).content.decode()
    assert 'data-testid="run-error"' in page and run.error.split("(")[0] in page
    assert 'action="%s"' % reverse("subsidies:compute", args=[run.pk]) in page

    # Asking for a report: failed with the queue's message, no file.
    response, seconds = timed(lambda: client.post(reverse("reports:request"), report_form))
    assert seconds < PATIENCE, seconds
    report = Report.objects.get()
    assert response.status_code == 302
    assert report.state == Report.State.FAILED and not report.file
    assert report.error.startswith(queue_down(REPORT_QUEUE_DOWN)), report.error
    detail = client.get(reverse("reports:detail", args=[report.pk])).content.decode()
    assert report.error.split("(")[0] in detail
    assert LedgerEntry.objects.count() == 4 * LOANS, "nothing else changed"

    return run, report


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_redis_down_then_back(cast, client, settings, tmp_path, redis_server):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    programme = Programme.objects.get(name="振兴贷", year=2025, region_code="530822")
    coop = mojiang_coop()
    loan_book_create(
        actor=cast.county, township=cast.township_a, programme=programme, coop=coop, count=LOANS
    )
    key = api_key_issue(actor=cast.county, user=cast.coop, coop=coop)[1]
    client.force_login(cast.county)
    as_of = datetime.date(2026, 1, 5)
    report_form = {
        "kind": Report.Kind.COUNTY,
        "format": Report.Format.PDF,
        "programme": programme.pk,
        "as_of": as_of.isoformat(),
    }

    with celery_on(redis_server.url, settings):
        # A worker is up and the web side has queued a task (its pool holds
        # a live connection); then Redis dies under both.
        worker = start_worker(
            settings={
                "CELERY_BROKER_URL": redis_server.url,
                "CELERY_RESULT_BACKEND": redis_server.url,
                "MEDIA_ROOT": settings.MEDIA_ROOT,
            }
        )
        celery_app.conf.task_default_queue = worker.queue
        try:
            assert ping.delay().get(timeout=30) == "pong"
            redis_server.stop()
            run, report = while_redis_is_down(client, key, programme, report_form)
            # Redis is back on the same port (empty: it keeps nothing on
            # disk); the worker reconnects on its own.
            redis_server.start()
            wait_for(
                lambda: worker.log().count("Connected to redis") >= 2,
                60,
                f"the worker did not reconnect:\n{worker.log()}",
            )
            assert client.get("/healthz").status_code == 200
            response = client.post(reverse("subsidies:compute", args=[run.pk]))
            assert page_messages(response)[0][0] == "success", page_messages(response)
            done = wait_for(
                lambda: (
                    SubsidyRun.objects.exclude(state=SubsidyRun.State.COMPUTING)
                    .filter(pk=run.pk)
                    .first()
                ),
                60,
                f"the run was not computed:\n{worker.log()}",
            )
            response = client.post(reverse("reports:request"), report_form)
            assert page_messages(response)[0][0] == "success", page_messages(response)
            finished = wait_for(
                lambda: Report.objects.exclude(state__in=["queued", "running"]).first(),
                90,
                f"the report was not generated:\n{worker.log()}",
            )
        finally:
            worker.stop()

    assert done.state == SubsidyRun.State.COMPUTED, done.error
    assert done.error == "" and done.generation == run.generation + 1
    assert list(done.transitions.order_by("pk").values_list("to_state", flat=True)) == [
        "draft",
        "computing",
        "failed",
        "computing",
        "computed",
    ]
    assert done.line_count == LOANS == SubsidyLine.objects.filter(run=done).count()
    fields = ("loan_id", "eligible_interest", "subsidy", "amount_due")
    stored = sorted(done.lines.values_list(*fields))
    lines, _adjustments = _compute_township(done, cast.township_a.pk)
    assert stored == sorted(tuple(getattr(line, f) for f in fields) for line in lines)
    assert set(done.lines.values_list("loan_id", flat=True)) == set(
        Loan.objects.values_list("pk", flat=True)
    )
    assert "subsidies.finish_run" in worker.log()

    assert finished.pk == report.pk and finished.generation == report.generation + 1
    assert finished.state == Report.State.DONE, finished.error
    assert finished.error == ""
    text = pdf_text(finished.file.path)
    assert f"{LOANS * PRINCIPAL:,.2f}" in text


@pytest.mark.django_db
def test_a_refused_launch_fails_the_run_and_says_so(cast, client, monkeypatch):
    """The same without Redis: the broker refuses the chord's messages. (The
    test's transaction never commits: the launch runs at once, as it does
    on commit when the service's own transaction is the outermost.)"""
    from kombu.exceptions import OperationalError

    def refuse(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr("common.queue.enqueue", refuse)
    monkeypatch.setattr("common.queue.enqueue_chord", refuse)
    monkeypatch.setattr("subsidies.runs.services._after_commit", lambda callback: callback())
    celery_app.conf.task_always_eager = False  # the autouse fixture restores it
    programme = Programme.objects.get(name="振兴贷", year=2025, region_code="530822")
    client.force_login(cast.county)
    response = client.post(reverse("subsidies:start"), {"programme": programme.pk, "year": 2025})
    run = SubsidyRun.objects.get(programme=programme, year=2025)
    assert run.state == SubsidyRun.State.FAILED
    assert run.error.startswith(queue_down(SUBSIDY_QUEUE_DOWN))
    assert "OperationalError" in run.error  # the error named, in either language
    assert page_messages(response) == [("error", run.error)]
    assert not run.lines.exists() and not run.parts.exists()
    # The county may compute it again: the button is offered.
    page = client.get(reverse("subsidies:run", args=[run.pk])).content.decode()
    assert 'action="%s"' % reverse("subsidies:compute", args=[run.pk]) in page
