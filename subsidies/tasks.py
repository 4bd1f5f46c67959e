"""The subsidy run's computation as Celery tasks: one task per township in a
chord whose body closes the run. Each task takes ids and calls a service;
the services make a task run twice, or retried after its worker died, write
the same lines (subsidies.services)."""

import logging

from celery import shared_task
from django.utils import timezone

from common.history import history_context
from subsidies.runs.services import (
    subsidy_run_compute_part,
    subsidy_run_fail,
    subsidy_run_finish,
    subsidy_runs_start_due,
)

from .calculation import CalculationError

logger = logging.getLogger(__name__)


@shared_task(name="subsidies.compute_part", acks_late=True, reject_on_worker_lost=True)
def compute_part(run_id: int, generation: int, township_id: int) -> int | None:
    try:
        return subsidy_run_compute_part(
            run_id=run_id, generation=generation, township_id=township_id
        )
    except CalculationError as error:
        subsidy_run_fail(run_id=run_id, generation=generation, error=str(error))
        return None
    except Exception as error:
        # The run shows it failed (the county can compute it again) rather
        # than stay "computing" for ever; the traceback goes to the log.
        logger.exception("Subsidy run %s, township %s failed", run_id, township_id)
        subsidy_run_fail(
            run_id=run_id, generation=generation, error=f"{type(error).__name__}: {error}"
        )
        return None


@shared_task(name="subsidies.finish_run")
def finish_run(_part_results, run_id: int, generation: int) -> str | None:
    run = subsidy_run_finish(run_id=run_id, generation=generation)
    return run.state if run else None


@shared_task(name="subsidies.computation_failed")
def computation_failed(request, exc, traceback, run_id: int, generation: int) -> None:
    logger.error("Subsidy run %s computation %s failed: %r", run_id, generation, exc)
    subsidy_run_fail(run_id=run_id, generation=generation, error=f"{type(exc).__name__}: {exc}")


@shared_task(name="subsidies.start_due_runs")
def start_due_runs() -> list[int]:
    """On 5 January: a draft run for the previous subsidy year of every
    active programme that has none."""
    with history_context(reason="scheduled task: subsidies.start_due_runs"):
        runs = subsidy_runs_start_due(today=timezone.localdate())
    return [run.pk for run in runs]
