"""Services of public notices (公示): publish the approved applications,
record and resolve objections, release the applications to the co-op when
the notice period has ended.

Each takes the acting user as ``actor``, checks role and township, runs in
one transaction and raises ``ValidationError`` (keyed by field, in the
user's language) or ``PermissionDenied``, leaving nothing changed.
"""

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.roles import county_of, require_permission, require_township
from common.history import save_traced
from loans.applications.services import application_transition
from loans.models import (
    Application,
    NoticeEntry,
    Objection,
    Programme,
    PublicNotice,
)

State = Application.State


@transaction.atomic
def notice_publish(
    *,
    actor,
    programme: Programme,
    starts_on: datetime.date,
    applications: list[Application] | None = None,
    title: str = "",
) -> PublicNotice:
    """Put approved applications (all of the programme's, by default) into a
    public notice that runs for the programme's notice period."""
    require_permission(actor, "loans.manage_notice")
    county = county_of(actor)
    queryset = (
        Application.objects.select_for_update()
        .for_user(actor)
        .filter(programme=programme, state=State.COUNTY_APPROVED)
    )
    if applications is not None:
        queryset = queryset.filter(pk__in=[a.pk for a in applications])
    chosen = list(queryset.order_by("township__code", "pk"))
    if not chosen:
        raise ValidationError(_("No approved application is waiting for a notice."))
    notice = PublicNotice(
        programme=programme,
        title=title
        or _("Public notice of %(programme)s loans, %(date)s")
        % {"programme": programme, "date": starts_on.isoformat()},
        starts_on=starts_on,
        ends_on=starts_on + datetime.timedelta(days=programme.notice_days - 1),
        created_by=actor,
        county=county,
    )
    save_traced(notice, actor=actor)
    for application in chosen:
        NoticeEntry.objects.create(notice=notice, application=application)
        application_transition(actor=actor, application=application, to_state=State.IN_NOTICE)
    return notice


@transaction.atomic
def objection_record(*, actor, entry: NoticeEntry, raised_by: str, content: str) -> Objection:
    """Record an objection; it holds the application back until resolved."""
    application = Application.objects.get(pk=entry.application_id)
    require_township(actor, application.township_id)
    if not (actor.has_perm("loans.review_application") or actor.has_perm("loans.manage_notice")):
        raise PermissionDenied
    if application.state != State.IN_NOTICE:
        raise ValidationError(_("Only an application in public notice can be objected to."))
    return save_traced(
        Objection(entry=entry, raised_by=raised_by, content=content, recorded_by=actor),
        actor=actor,
    )


@transaction.atomic
def objection_resolve(*, actor, objection: Objection, upheld: bool, resolution: str) -> Objection:
    """Close an objection. An upheld objection rejects the application."""
    require_permission(actor, "loans.manage_notice")
    if not objection.is_open:
        raise ValidationError(_("This objection is already resolved."))
    if not resolution.strip():
        raise ValidationError({"resolution": _("Say how the objection was resolved.")})
    objection.upheld = upheld
    objection.resolution = resolution
    objection.resolved_at = timezone.now()
    save_traced(objection, actor=actor)
    if upheld:
        application_transition(
            actor=actor,
            application=Application.objects.get(pk=objection.entry.application_id),
            to_state=State.REJECTED,
            comment=_("Objection upheld: %(resolution)s") % {"resolution": resolution},
        )
    return objection


@transaction.atomic
def notices_release_due(*, actor, today: datetime.date, notice: PublicNotice | None = None) -> int:
    """Release every application (of ``notice``, or of every notice) whose
    notice period is over and that has no open objection; close notices with
    nothing left in notice. Safe to run twice: released applications are
    not in notice any more."""
    entries = (
        NoticeEntry.objects.select_related("application", "notice")
        .filter(notice__ends_on__lt=today, application__state=State.IN_NOTICE)
        .exclude(objections__resolved_at__isnull=True, objections__isnull=False)
    )
    notices = PublicNotice.objects.filter(closed_at__isnull=True, ends_on__lt=today)
    if notice is not None:
        entries = entries.filter(notice=notice)
        notices = notices.filter(pk=notice.pk)
    released = 0
    for entry in entries:
        application_transition(
            actor=actor,
            application=entry.application,
            to_state=State.RELEASED,
            comment=_("Notice period ended without objection."),
        )
        released += 1
    for finished in notices:
        if not finished.entries.filter(application__state=State.IN_NOTICE).exists():
            finished.closed_at = timezone.now()
            save_traced(finished, actor=actor)
    return released
