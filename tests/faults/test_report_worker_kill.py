"""A worker killed while it builds a report (reports.generate, acks_late):
the message goes back to the queue once its visibility timeout passes, a
second worker builds the report from the start, and the stored file says
exactly what an uninterrupted build says. Then asking again regenerates it.

The payout list of an approved run of a few hundred loans (PDF) takes some
seconds to build, so the kill lands in the middle: the test waits until
the builder has reported its first stages, and checks afterwards that the
report was still being built when its worker died. Real workers, on a
Redis server of the test's own (a visibility timeout of 2 s must not
hand other tests' messages around), and PostgreSQL.
"""

import datetime
import re
import subprocess

import pytest

from demo.loan_book import loan_book_create
from loans.models import Programme
from reports.builders import builder_for, no_progress
from reports.models import Report
from reports.services import report_request
from subsidies.models import SubsidyRun
from subsidies.runs.services import subsidy_run_approve, subsidy_run_start, subsidy_run_submit
from tests.faults.brokers import RedisServer, celery_on
from tests.loans.conftest import mojiang_coop
from tests.workers import start_worker, wait_for
from zhenxingdai.celery import app as celery_app

LOANS = 600
RESTORE = {
    "CELERY_VISIBILITY_TIMEOUT": "2",
    "CELERY_UNACKED_RESTORE_INTERVAL": "1",
    "CELERY_UNACKED_RESTORE_THROTTLE": "1",
}


def pdf_text(content: bytes) -> str:
    """The PDF's text with its date-and-minute stamps left out: a build a
    minute later (or asked for again) is the same report. The stamp in the
    header table may wrap after the year, so the month, day and minute are
    masked wherever they stand."""
    text = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=content, capture_output=True, check=True
    ).stdout.decode()
    return re.sub(r"\d{2}-\d{2}\s+\d{2}:\d{2}", "…", text)


def stored_content(report) -> bytes:
    with report.file.open("rb") as handle:
        return handle.read()


@pytest.fixture
def approved_run(cast):
    programme = Programme.objects.get(name="振兴贷", year=2025, region_code="530822")
    coop = mojiang_coop()
    loan_book_create(
        actor=cast.county, township=cast.township_a, programme=programme, coop=coop, count=LOANS
    )
    # Computed eagerly, in this process: only the report needs real workers.
    run = subsidy_run_start(
        actor=cast.county, programme=programme, year=2025, today=datetime.date(2026, 1, 5)
    )
    run = SubsidyRun.objects.get(pk=run.pk)
    assert run.state == SubsidyRun.State.COMPUTED and run.line_count == LOANS, run.error
    run = subsidy_run_submit(actor=cast.county, run=run)
    return subsidy_run_approve(actor=cast.finance, run=run)


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_report_is_replaced_and_the_file_is_whole(
    cast, approved_run, settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    server = RedisServer(tmp_path / "redis")
    server.start()
    worker_settings = {
        **RESTORE,
        "CELERY_BROKER_URL": server.url,
        "CELERY_RESULT_BACKEND": server.url,
        "MEDIA_ROOT": settings.MEDIA_ROOT,
    }
    workers = []
    try:
        with celery_on(server.url, settings):
            doomed = start_worker(settings=worker_settings)
            workers.append(doomed)
            celery_app.conf.task_default_queue = doomed.queue
            report = report_request(
                actor=cast.finance,
                kind=Report.Kind.PAYOUT,
                format=Report.Format.PDF,
                run=approved_run,
            )
            # The builder has read the lines and is laying out the pages.
            wait_for(
                lambda: Report.objects.filter(
                    pk=report.pk, state=Report.State.RUNNING, progress__gte=5
                ).exists(),
                60,
                f"the report was not started:\n{doomed.log()}",
            )
            doomed.kill()
            killed = Report.objects.get(pk=report.pk)
            assert killed.state == Report.State.RUNNING, "the kill came too late"
            assert killed.progress < 100 and not killed.file and killed.finished_at is None
            assert "reports.generate[" in doomed.log()
            assert "succeeded" not in doomed.log()

            # The message comes back after 2 s; another worker takes it.
            rescuer = start_worker(queue=doomed.queue, settings=worker_settings)
            workers.append(rescuer)
            done = wait_for(
                lambda: (
                    Report.objects.filter(pk=report.pk)
                    .exclude(state__in=[Report.State.QUEUED, Report.State.RUNNING])
                    .first()
                ),
                120,
                f"the report was not generated again:\n{rescuer.log()}",
            )
            assert done.state == Report.State.DONE, done.error
            assert done.generation == report.generation, "the same request, not a new one"
            assert done.row_count == LOANS and done.error == ""
            assert "reports.generate[" in rescuer.wait_for_log("succeeded")

            # The same content as a build nobody interrupted.
            stored = stored_content(done)
            whole = builder_for(done.kind, done.format)(done, no_progress).content
            assert pdf_text(stored) == pdf_text(whole)
            text = pdf_text(stored)
            assert text.count("\n") > LOANS
            contracts = [f"BK-{index:07d}" for index in (0, LOANS // 2, LOANS - 1)]
            assert all(contract in text for contract in contracts), contracts

            # Asking again regenerates it, on the second worker.
            again = report_request(
                actor=cast.finance,
                kind=Report.Kind.PAYOUT,
                format=Report.Format.PDF,
                run=approved_run,
            )
            regenerated = wait_for(
                lambda: Report.objects.filter(
                    pk=again.pk, generation=report.generation + 1, state=Report.State.DONE
                ).first(),
                120,
                f"the report was not regenerated:\n{rescuer.log()}",
            )
            assert pdf_text(stored_content(regenerated)) == pdf_text(whole)
    finally:
        for worker in workers:
            worker.stop()
        server.stop()
