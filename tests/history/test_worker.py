"""A subsidy run started on the page and computed by a real Celery worker:
what the worker writes carries the user who started it, with no address
(the worker has no request). Real worker, Redis, PostgreSQL."""

import pytest
from django.urls import reverse

from subsidies.models import SubsidyLine, SubsidyRun
from subsidies.runs import views as run_views
from subsidies.runs.services import COMPUTATION_REASON
from tests.history.conftest import logged_in
from tests.subsidies.conftest import AFTER_2025
from tests.workers import wait_for
from zhenxingdai.celery import app as celery_app


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_worker_records_the_starter_of_the_computation(
    transactional_db, client, cast, programme, lend, celery_worker, monkeypatch
):
    lend()
    lend(township=cast.township_b)
    monkeypatch.setattr(run_views, "_today", lambda: AFTER_2025)
    default_queue = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = celery_worker.queue
    try:
        logged_in(client, cast.county).post(
            reverse("subsidies:start"),
            {"programme": programme.pk, "year": 2025},
            REMOTE_ADDR="10.1.1.1",
        )
    finally:
        celery_app.conf.task_default_queue = default_queue
    run = SubsidyRun.objects.get(programme=programme, year=2025)
    wait_for(
        lambda: SubsidyRun.objects.get(pk=run.pk).state != SubsidyRun.State.COMPUTING,
        timeout=60,
        message="the worker did not finish the run:\n%s" % celery_worker.log(),
    )
    run.refresh_from_db()
    assert run.state == SubsidyRun.State.COMPUTED, run.error
    started, computing, computed = run.history.order_by("history_date", "history_id")
    assert (started.history_user, started.ip_address) == (cast.county, "10.1.1.1")
    assert (computed.history_user, computed.ip_address, computed.history_change_reason) == (
        cast.county,
        None,
        COMPUTATION_REASON,
    )
    lines = SubsidyLine.history.filter(run_id=run.pk)
    assert lines.count() == run.lines.count() == 2
    assert {(r.history_type, r.history_user, r.ip_address) for r in lines} == {
        ("+", cast.county, None)
    }
