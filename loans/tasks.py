"""Daily tasks of the loan life cycle (scheduled in CELERY_BEAT_SCHEDULE).

Each loads what it needs and calls a service; the services hold the rules and
are safe to run twice (a released application is no longer in notice; a
loan's status is recorded only when it changes).
"""

import logging

from celery import shared_task
from django.utils import timezone

from common.history import history_context
from loans.ledger.services import loan_statuses_record
from loans.notices.services import notices_release_due

from .models import PublicNotice

logger = logging.getLogger(__name__)


@shared_task(name="loans.release_due_notices")
def release_due_notices() -> int:
    """Release every entry whose notice period is over and that has no open
    objection, each notice in the name of the officer who published it;
    answer how many were released."""
    today = timezone.localdate()
    released = 0
    due = PublicNotice.objects.filter(closed_at__isnull=True, ends_on__lt=today).select_related(
        "created_by"
    )
    for notice in due:
        creator = notice.created_by
        if not (creator.is_active and creator.has_perm("loans.manage_notice")):
            logger.error(
                "Notice %s is due, but its publisher may no longer manage notices; "
                "release it from the notice page.",
                notice.pk,
            )
            continue
        with history_context(user=creator, reason="scheduled task: loans.release_due_notices"):
            released += notices_release_due(actor=creator, today=today, notice=notice)
    return released


@shared_task(name="loans.record_loan_statuses")
def record_loan_statuses() -> int:
    """Record every loan whose status changed by today (overdue the day after
    maturity with principal left); answer how many changed."""
    with history_context(reason="scheduled task: loans.record_loan_statuses"):
        return loan_statuses_record(today=timezone.localdate())
