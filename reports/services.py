"""Asking for a stored report, and generating it in the background.

``report_request`` checks who may ask for what, finds the report's row by
what it is of (its key) and queues its generation (a county's reports, of
the county or one township; an office's consolidated report, of its
counties: ``reports.consolidated``); asking again while it is
being generated returns the same row, asking again later regenerates it in
place. ``report_generate`` is the Celery task's body: it builds the file
(``reports.builders``), stores it, and deletes the previous file only once
the new one is stored; a failed generation records its error.

A generation is numbered: a task that finds its report asked for again
since it started does nothing more, so two requests in quick succession
leave the file of the second.
"""

import datetime
import logging
import time

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.roles import (
    TOWNSHIP_BOUND_ROLES,
    counties_of,
    county_of,
    office_of,
    require_county,
    require_permission,
    require_township,
    role_of,
    township_of,
)
from common import queue
from loans.models import Programme
from subsidies.models import SubsidyRun

from .builders import BUILDERS, builder_for
from .models import Report

logger = logging.getLogger(__name__)
Kind = Report.Kind
State = Report.State

# Which runs each run report may be built from.
RUN_STATES = {
    Kind.PAYOUT: {SubsidyRun.State.APPROVED, SubsidyRun.State.PAID},
    Kind.RUN_NOTICE: {SubsidyRun.State.SUBMITTED, SubsidyRun.State.APPROVED, SubsidyRun.State.PAID},
}
# Reports that list people with their (masked) identifiers and contract
# numbers: each download is logged.
IDENTIFYING_KINDS = {Kind.PAYOUT}
# A generation that has not finished in this long is taken to be lost (its
# worker died and the message has not come back): asking again restarts it.
STALE_AFTER = datetime.timedelta(minutes=30)
PROGRESS_INTERVAL = 0.5


def report_key(
    *, kind, format, county=None, office=None, programme=None, run=None, as_of=None, township=None
) -> str:
    """What a report is of, as its row's unique key: a county's (``c``) or
    an office's (``o``); an office's report of all programmes has no ``p``."""
    parts = [kind, format, f"c{county.pk}" if county is not None else f"o{office.pk}"]
    if programme is not None:
        parts.append(f"p{programme.pk}")
    if run is not None:
        parts.append(f"r{run.pk}")
    if as_of is not None:
        parts.append(as_of.isoformat())
    if county is not None:
        parts.append(f"t{township.pk}" if township is not None else "county")
    return ":".join(parts)


def reports_for(user):
    """The stored reports ``user`` may see: a township officer those of
    their own township only, county-wide roles all. An office's reports
    carry no county and are never among them (``office_reports_for``)."""
    if not user.has_perm("reports.view_report"):
        return Report.objects.none()
    queryset = Report.objects.select_related("programme", "run__programme", "township").filter(
        county_id__in=counties_of(user)
    )
    if _county_wide(user):
        return queryset
    township = township_of(user)
    return queryset.filter(township=township) if township else Report.objects.none()


def office_reports_for(user):
    """The consolidated reports an office above the county may see: its own
    office's (a city's, not its neighbour's nor its province's); none for
    anyone else."""
    office = office_of(user)
    if office is None or not user.has_perm("reports.view_league"):
        return Report.objects.none()
    return Report.objects.select_related("programme", "office").filter(
        kind=Kind.CONSOLIDATED, office=office
    )


def _county_wide(user) -> bool:
    return role_of(user) not in TOWNSHIP_BOUND_ROLES


def _scope(actor, township):
    """The township the report covers: a township officer's own, whatever
    was asked; a county-wide role's choice (None for the whole county)."""
    if _county_wide(actor):
        return township
    own = township_of(actor)
    if own is None:
        raise PermissionDenied
    if township is not None and township.pk != own.pk:
        raise PermissionDenied
    return own


def _check(kind, format, programme, run, as_of) -> None:
    if (kind, format) not in BUILDERS:
        raise ValidationError(
            _("%(report)s is not available as %(format)s.")
            % {"report": Kind(kind).label, "format": Report.Format(format).label}
        )
    if kind in (Kind.COUNTY, Kind.CONSOLIDATED):
        errors = {}
        # An office's report may be of every programme its counties run.
        if programme is None and kind == Kind.COUNTY:
            errors["programme"] = _("Choose the programme.")
        if as_of is None:
            errors["as_of"] = _("Give the date the figures are to stand at.")
        elif as_of > timezone.localdate():
            errors["as_of"] = _("The date cannot be in the future.")
        if errors:
            raise ValidationError(errors)
        return
    if run is None:
        raise ValidationError({"run": _("Choose the subsidy run.")})
    if run.state not in RUN_STATES[kind]:
        raise ValidationError(
            _("%(report)s cannot be made for a run that is %(state)s.")
            % {"report": Kind(kind).label, "state": run.get_state_display()}
        )


def _check_programme(actor, programme) -> None:
    """A programme none of the actor's counties runs is a field error."""
    if programme is None:
        return
    if not Programme.objects.for_user(actor).filter(pk=programme.pk).exists():
        raise ValidationError(
            {"programme": _("This programme is not run in any of your counties.")}
        )


def report_request(
    *, actor, kind, format, programme=None, run=None, as_of=None, township=None
) -> Report:
    """Queue the generation of a report, or return the one being generated.

    A county's reports need ``reports.request_report`` and are of the
    actor's county; the consolidated report needs ``reports.view_league``
    (the offices above the county alone hold it) and is of the actor's
    office: of every county under it, never of a township or a run."""
    county = office = None
    if kind == Kind.CONSOLIDATED:
        require_permission(actor, "reports.view_league")
        office = office_of(actor)
        if office is None:
            raise PermissionDenied
        township = run = None
    else:
        require_permission(actor, "reports.request_report")
        county = county_of(actor)
        if county is None:
            raise PermissionDenied
        township = _scope(actor, township)
        if township is not None:
            require_township(actor, township.pk)
        if run is not None:
            require_county(actor, run.county_id)
            programme = None
    _check_programme(actor, programme)
    _check(kind, format, programme, run, as_of)
    key = report_key(
        kind=kind,
        format=format,
        county=county,
        office=office,
        programme=programme,
        run=run,
        as_of=as_of,
        township=township,
    )
    now = timezone.now()
    with transaction.atomic():
        report, created = Report.objects.select_for_update().get_or_create(
            key=key,
            defaults={
                "kind": kind,
                "format": format,
                "programme": programme,
                "run": run,
                "as_of": as_of,
                "township": township,
                "county": county,
                "office": office,
                "state": State.QUEUED,
                "requested_by": actor,
                "requested_at": now,
            },
        )
        if not created and report.in_progress and now - report.requested_at < STALE_AFTER:
            return report
        report.state = State.QUEUED
        report.generation += 1
        report.progress = 0
        report.stage = ""
        report.error = ""
        report.requested_by = actor
        report.requested_at = now
        report.started_at = None
        report.finished_at = None
        report.save()
        generation = report.generation
        _after_commit(lambda: _launch(report.pk, generation))
    return report


def _after_commit(callback) -> None:
    """The task may only see the report once it is committed."""
    transaction.on_commit(callback)


def _launch(report_id: int, generation: int) -> None:
    try:
        queue.enqueue("reports.generate", report_id, generation)
    except Exception as error:  # the broker is down or refuses the message
        if settings.CELERY_TASK_ALWAYS_EAGER:
            raise
        logger.exception("Report %s could not be queued", report_id)
        _fail(
            report_id,
            generation,
            _("The task queue is not available, so the report was not started (%(error)s). ")
            % {"error": type(error).__name__}
            + _("Try again in a few minutes."),
        )


def _fail(report_id: int, generation: int, error: str) -> None:
    Report.objects.filter(pk=report_id, generation=generation).update(
        state=State.FAILED, error=error, finished_at=timezone.now()
    )


class _ProgressRecorder:
    """Writes a generation's progress at most every PROGRESS_INTERVAL
    seconds, and only when it moves."""

    def __init__(self, report_id: int, generation: int):
        self.report_id = report_id
        self.generation = generation
        self.last = (-1, "")
        self.written_at = 0.0

    def __call__(self, percent: int, stage: str) -> None:
        percent = max(0, min(int(percent), 99))
        now = time.monotonic()
        if (percent, stage) == self.last or (
            now - self.written_at < PROGRESS_INTERVAL and stage == self.last[1]
        ):
            return
        self.last = (percent, stage)
        self.written_at = now
        Report.objects.filter(pk=self.report_id, generation=self.generation).update(
            progress=percent, stage=str(stage)[:100]
        )


def report_generate(*, report_id: int, generation: int) -> None:
    """Build the report's file and store it (the task's body)."""
    started = Report.objects.filter(
        Q(state=State.QUEUED) | Q(state=State.RUNNING), pk=report_id, generation=generation
    ).update(state=State.RUNNING, started_at=timezone.now(), progress=0)
    if not started:
        return  # asked for again since, or already finished
    report = Report.objects.select_related(
        "programme", "run__programme", "township", "county", "office", "requested_by"
    ).get(pk=report_id)
    try:
        built = builder_for(report.kind, report.format)(
            report, _ProgressRecorder(report_id, generation)
        )
    except ValidationError as error:
        # A rule the request could not check (the run changed state since).
        _fail(report_id, generation, "; ".join(error.messages))
        return
    except Exception as error:
        logger.exception("Report %s failed", report_id)
        _fail(report_id, generation, f"{type(error).__name__}: {error}")
        return
    _store(report_id, generation, built)


def _store(report_id: int, generation: int, built) -> None:
    old_name = None
    with transaction.atomic():
        report = Report.objects.select_for_update().get(pk=report_id)
        if report.generation != generation:
            return
        old_name = report.file.name or None
        report.file.save(file_name(report), ContentFile(built.content), save=False)
        report.file_size = len(built.content)
        report.row_count = built.row_count
        report.run_generation = report.run.generation if report.run_id else None
        report.state = State.DONE
        report.progress = 100
        report.stage = ""
        report.finished_at = timezone.now()
        report.save()
        new_name = report.file.name
        storage = report.file.storage
        if old_name and old_name != new_name:
            _after_commit(lambda: storage.delete(old_name))


def file_name(report: Report) -> str:
    """A plain ASCII name for the stored file; downloads get a Chinese one
    (``download_name``)."""
    parts = [report.kind.replace("_", "-")]
    if report.run_id:
        parts.append(f"run{report.run_id}")
    if report.programme_id:
        parts.append(f"programme{report.programme_id}")
    if report.as_of:
        parts.append(report.as_of.isoformat())
    if report.office_id:
        parts.append(report.office.code)
    else:
        parts.append(report.township.code if report.township_id else "county")
    return "-".join(parts) + "." + report.format


def download_name(report: Report) -> str:
    """The name a downloaded file is saved under: programme, year, report,
    scope and date, in Chinese."""
    if report.run_id:
        what = f"{report.run.programme.region_name}{report.run.programme.name}{report.run.year}年"
    elif report.office_id:
        # 普洱市振兴贷2025工作情况汇总表, or 普洱市各项目... for all programmes.
        programme = report.programme
        what = report.office.name + (f"{programme.name}{programme.year}" if programme else "各项目")
    else:
        what = f"{report.programme.region_name}{report.programme.name}{report.programme.year}"
    title = {
        Kind.COUNTY: "工作情况统计表",
        Kind.PAYOUT: "贴息资金拨付明细表",
        Kind.RUN_NOTICE: "贴息公示",
        Kind.CONSOLIDATED: "工作情况汇总表",
    }[report.kind]
    scope = report.township.name if report.township_id else ""
    dated = report.kind in (Kind.COUNTY, Kind.CONSOLIDATED)
    day = f"（截至{report.as_of:%Y%m%d}）" if dated and report.as_of else ""
    return f"{what}{title}{scope}{day}.{report.format}"


def is_stale(report: Report) -> bool:
    """Whether a run report's figures are from an earlier computation of
    the run than the current one (the run was recomputed since)."""
    return bool(
        report.run_id
        and report.run_generation is not None
        and report.run_generation != report.run.generation
    )
