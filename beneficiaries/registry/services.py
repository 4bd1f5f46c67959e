"""Services of the registry: every create and change of a household,
borrower, position, enterprise or driven household goes through
one of these, from pages, imports and the demo alike.

Each takes the acting user as ``actor``, checks that the actor may act in
the record's township, runs the model's full validation and records the
actor in the change history. Bad input raises ``ValidationError`` keyed by
field, and nothing is saved.
"""

import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.roles import require_township_field
from beneficiaries.models import (
    Borrower,
    DrivenHousehold,
    Enterprise,
    Household,
    Position,
    derive_category,
)
from common.history import history_record_bulk, save_traced, validate_for_save


def _apply(instance, changes: dict) -> None:
    for name, value in changes.items():
        if not hasattr(instance, name):
            raise TypeError(f"{type(instance).__name__} has no field {name!r}")
        setattr(instance, name, value)


@transaction.atomic
def household_create(*, actor, reason: str | None = None, **fields) -> Household:
    household = Household(**fields)
    if household.village_group_id:
        group = household.village_group
        require_township_field(
            actor, group.parent.parent_id if group.parent_id else None, "village_group"
        )
    return save_traced(household, actor=actor, reason=reason)


@transaction.atomic
def household_update(*, actor, household: Household, reason: str | None = None, **changes):
    require_township_field(actor, household.township_id, "village_group")
    _apply(household, changes)
    group = household.village_group
    require_township_field(
        actor, group.parent.parent_id if group.parent_id else None, "village_group"
    )
    save_traced(household, actor=actor, reason=reason)
    # Borrowers carry their household's township for scoping: move them along.
    Borrower.objects.filter(household=household).exclude(township=household.township).update(
        township=household.township
    )
    return household


def _refresh_category(borrower: Borrower, today: datetime.date) -> None:
    borrower.category = borrower.category_on(today)


@transaction.atomic
def borrower_create(
    *,
    actor,
    household: Household,
    positions: list[dict] | tuple = (),
    today: datetime.date | None = None,
    reason: str | None = None,
    **fields,
) -> Borrower:
    """Register a borrower in an existing household, with the positions held.

    ``positions`` are dicts of ``title``, ``started_on`` and ``ended_on``.
    Every error, the borrower's and each position's, is reported at once.
    """
    today = today or timezone.localdate()
    require_township_field(actor, household.township_id, "household")
    borrower = Borrower(household=household, **fields)
    pending = [Position(**data) for data in positions]
    errors: dict[str, list] = {}
    try:
        validate_for_save(borrower)
    except ValidationError as error:
        errors.update(error.message_dict)
    position_errors = []
    for number, position in enumerate(pending, start=1):
        try:
            validate_for_save(position, exclude=["borrower"])
        except ValidationError as error:
            position_errors.append(
                _("Position %(number)d: %(errors)s")
                % {"number": number, "errors": " ".join(error.messages)}
            )
    if position_errors:
        errors["positions"] = position_errors
    if errors:
        raise ValidationError(errors)
    borrower.category = derive_category(pending, borrower.base_category, today)
    save_traced(borrower, actor=actor, reason=reason)
    for position in pending:
        position.borrower = borrower
        save_traced(position, actor=actor, reason=reason)
    return borrower


@transaction.atomic
def borrower_update(
    *,
    actor,
    borrower: Borrower,
    today: datetime.date | None = None,
    reason: str | None = None,
    **changes,
) -> Borrower:
    today = today or timezone.localdate()
    require_township_field(actor, borrower.township_id, "household")
    _apply(borrower, changes)
    require_township_field(actor, borrower.household.township_id, "household")
    _refresh_category(borrower, today)
    return save_traced(borrower, actor=actor, reason=reason)


@transaction.atomic
def position_save(
    *,
    actor,
    borrower: Borrower,
    position: Position | None = None,
    today: datetime.date | None = None,
    **fields,
) -> Position:
    """Add a position to a borrower, or change one, and re-derive the category."""
    today = today or timezone.localdate()
    require_township_field(actor, borrower.township_id, "borrower")
    position = position or Position(borrower=borrower)
    if position.borrower_id != borrower.pk:
        raise ValidationError(_("That position belongs to another borrower."))
    _apply(position, fields)
    save_traced(position, actor=actor)
    _refresh_category(borrower, today)
    save_traced(borrower, actor=actor)
    return position


@transaction.atomic
def position_delete(*, actor, position: Position, today: datetime.date | None = None) -> None:
    today = today or timezone.localdate()
    borrower = position.borrower
    require_township_field(actor, borrower.township_id, "borrower")
    position._history_user = actor
    position.delete()
    _refresh_category(borrower, today)
    save_traced(borrower, actor=actor)


def borrowers_refresh_categories(*, today: datetime.date) -> int:
    """Bring every stored category in line with the positions in force on
    ``today``; return how many changed. Set-based: three UPDATEs."""
    in_force = Q(started_on__lte=today) & (Q(ended_on__isnull=True) | Q(ended_on__gte=today))
    committee_titles = [
        title
        for title, category in Position.TITLE_CATEGORY.items()
        if category == Borrower.Category.VILLAGE_COMMITTEE
    ]
    holds = Position.objects.filter(in_force, borrower=OuterRef("pk"))
    committee = Exists(holds.filter(title__in=committee_titles))
    group = Exists(holds.exclude(title__in=committee_titles))
    changed = []
    with transaction.atomic():
        for stale, category in (
            (
                Borrower.objects.filter(committee).exclude(
                    category=Borrower.Category.VILLAGE_COMMITTEE
                ),
                Borrower.Category.VILLAGE_COMMITTEE,
            ),
            (
                Borrower.objects.filter(~committee & group).exclude(
                    category=Borrower.Category.GROUP_CADRE
                ),
                Borrower.Category.GROUP_CADRE,
            ),
            (
                Borrower.objects.filter(~committee & ~group).exclude(category=F("base_category")),
                F("base_category"),
            ),
        ):
            ids = list(stale.values_list("pk", flat=True))
            Borrower.objects.filter(pk__in=ids).update(category=category)
            changed += ids
        # update() skips save(): record the changes in the history here.
        history_record_bulk(Borrower.objects.filter(pk__in=changed), history_type="~")
    return len(changed)


@transaction.atomic
def enterprise_create(*, actor, reason: str | None = None, **fields) -> Enterprise:
    enterprise = Enterprise(**fields)
    if enterprise.village_id:
        require_township_field(actor, enterprise.village.parent_id, "village")
    return save_traced(enterprise, actor=actor, reason=reason)


@transaction.atomic
def enterprise_update(*, actor, enterprise: Enterprise, reason: str | None = None, **changes):
    require_township_field(actor, enterprise.township_id, "village")
    _apply(enterprise, changes)
    require_township_field(actor, enterprise.village.parent_id, "village")
    return save_traced(enterprise, actor=actor, reason=reason)


@transaction.atomic
def driven_household_link(
    *,
    actor,
    household: Household,
    benefit: str,
    yearly_amount: Decimal = Decimal("0.00"),
    borrower: Borrower | None = None,
    enterprise: Enterprise | None = None,
    since: datetime.date | None = None,
    reason: str | None = None,
) -> DrivenHousehold:
    """Record that a borrower or an enterprise leads ``household``."""
    leader = borrower or enterprise
    if leader is not None:
        require_township_field(actor, leader.township_id, "borrower" if borrower else "enterprise")
    link = DrivenHousehold(
        borrower=borrower,
        enterprise=enterprise,
        household=household,
        benefit=benefit,
        yearly_amount=yearly_amount,
        since=since,
    )
    return save_traced(link, actor=actor, reason=reason)
