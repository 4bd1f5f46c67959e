"""Reads of the registry for pages: what a user may see, shaped for display.

Every selector takes the user (or an object already fetched for them) and
confines itself with ``for_user``; none of them writes.
"""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from accounts.history.selectors import RelatedNames, display_value
from accounts.scoping import divisions_for
from beneficiaries.models import Borrower, DrivenHousehold, Household, Position, derive_category
from common.identifiers import normalize_resident_id
from divisions.models import Division

from .filters import DEFAULT_ORDER, BorrowerFilter

# Only the columns the list shows: a page of 50 rows of 100,000 borrowers
# reads what it prints and no more.
LIST_COLUMNS = (
    "name",
    "id_number",
    "phone",
    "party_member",
    "category",
    "created_at",
    "township__name",
    "township__code",
    "household__poverty_status",
    "household__village_group__name",
    "household__village_group__code",
    "household__village_group__parent__name",
    "industry__name",
)


def borrower_list(*, user, params) -> BorrowerFilter:
    """The borrowers ``user`` may see, narrowed and sorted by the list's GET
    ``params``. Its ``qs`` is ready to paginate: one query per page whatever
    the page size, since every column shown is joined in (no per-row reads).
    """
    queryset = (
        Borrower.objects.for_user(user)
        .select_related("township", "household__village_group__parent", "industry")
        .only(*LIST_COLUMNS)
        .order_by(*DEFAULT_ORDER)
    )
    return BorrowerFilter(params, queryset, user=user)


def borrower_for_detail(*, user, pk: int) -> Borrower | None:
    """One borrower with everything the detail page shows beside it, or None
    when it does not exist or lies outside the user's township."""
    return (
        Borrower.objects.for_user(user)
        .select_related(
            "township",
            "household__village_group__parent__parent",
            "industry__parent",
            "enterprise",
        )
        .filter(pk=pk)
        .first()
    )


@dataclass(frozen=True)
class PositionsOn:
    """A borrower's positions, newest first, and what they make the borrower
    on ``day``."""

    day: datetime.date
    positions: list[Position]
    in_force: set[int]
    category: str

    @property
    def category_label(self) -> str:
        return Borrower.Category(self.category).label


def borrower_positions(*, borrower: Borrower, day: datetime.date) -> PositionsOn:
    """One query: the positions, and the category derived from them on
    ``day`` (what ``Borrower.category_on`` answers, without reading twice)."""
    positions = list(borrower.positions.all())
    return PositionsOn(
        day=day,
        positions=positions,
        in_force={position.pk for position in positions if position.in_force_on(day)},
        category=derive_category(positions, borrower.base_category, day),
    )


@dataclass(frozen=True)
class DrivenHouseholds:
    links: list[DrivenHousehold]
    count: int
    total_yearly_amount: Decimal


def borrower_driven_households(*, borrower: Borrower) -> DrivenHouseholds:
    links = list(
        borrower.driven_households.select_related("household__village_group__parent").order_by("pk")
    )
    total = sum((link.yearly_amount for link in links), Decimal("0.00"))
    return DrivenHouseholds(links=links, count=len(links), total_yearly_amount=total)


def household_by_head(*, user, head_id_number: str, township_id: int | None = None):
    """The household whose head has this ID number, if the user may see it
    (and, with ``township_id``, only in that township)."""
    households = Household.objects.for_user(user).filter(
        head_id_number=normalize_resident_id(head_id_number)
    )
    if township_id is not None:
        households = households.filter(township_id=township_id)
    return households.first()


def village_groups_for(user):
    """The village groups a user may see, with their village and township
    joined in, in code order (for choice lists grouped by village)."""
    return (
        divisions_for(user)
        .filter(level=Division.Level.GROUP)
        .select_related("parent__parent")
        .order_by("code")
    )


# --- Change history ---------------------------------------------------------

# Never shown as a change: bookkeeping, not data.
HISTORY_SKIPPED_FIELDS = {"id", "created_at", "updated_at"}
# Where a model's verbose name is too general for a person.
HISTORY_LABELS = {(Borrower, "name"): _lazy("Full name")}


@dataclass(frozen=True)
class FieldChange:
    label: str
    old: str
    new: str


@dataclass(frozen=True)
class HistoryEntry:
    """One saved version of a record: who, when, from where and what changed."""

    when: datetime.datetime
    user: object
    ip_address: str | None
    subject: str
    kind: str  # "created", "changed" or "deleted"
    reason: str | None
    changes: list[FieldChange] = field(default_factory=list)
    order: int = 0


def _tracked(record) -> list:
    return [f for f in record.tracked_fields if f.name not in HISTORY_SKIPPED_FIELDS]


def borrower_history(*, borrower: Borrower, show_personal_data: bool) -> list[HistoryEntry]:
    """The change history of a borrower, their household, positions and
    driven-household links, newest first.

    Saves that changed nothing shown (a category re-derived to the same
    value, for instance) are left out.
    """
    series = [
        (Borrower, Borrower.history.filter(id=borrower.pk)),
        (Household, Household.history.filter(id=borrower.household_id)),
        (Position, Position.history.filter(borrower_id=borrower.pk)),
        (DrivenHousehold, DrivenHousehold.history.filter(borrower_id=borrower.pk)),
    ]
    related = RelatedNames()
    pairs = []  # (model, record, previous record of the same object or None)
    for model, records in series:
        previous_by_object = {}
        for record in records.select_related("history_user").order_by("history_date", "pk"):
            pairs.append((model, record, previous_by_object.get(record.id)))
            previous_by_object[record.id] = record
            for model_field in _tracked(record):
                if model_field.is_relation:
                    related.want(model_field.related_model, getattr(record, model_field.attname))
    related.fetch()

    entries = []
    for model, record, previous in pairs:
        changes = []
        if record.history_type == "~" and previous is not None:
            changes = [
                FieldChange(
                    label=str(HISTORY_LABELS.get((model, name), model_field.verbose_name)),
                    old=display_value(model_field, old, related, show_personal_data),
                    new=display_value(model_field, new, related, show_personal_data),
                )
                for model_field, name, old, new in _diff(model, record, previous)
            ]
            if not changes:
                continue
        kind = {"+": "created", "-": "deleted"}.get(record.history_type, "changed")
        entries.append(
            HistoryEntry(
                when=record.history_date,
                user=record.history_user,
                ip_address=record.ip_address,
                subject=_history_subject(model, record, related),
                kind=kind,
                reason=record.history_change_reason,
                changes=changes,
                order=record.pk,
            )
        )
    entries.sort(key=lambda entry: (entry.when, entry.order), reverse=True)
    return entries


def _diff(model, record, previous):
    """(field, name, old, new) for each field that differs between two
    versions: simple-history's ``diff_against`` for the editable fields, and
    a direct comparison for the derived ones it leaves out (category,
    township, gender, birth date), which change as a result of an edit."""
    tracked = _tracked(record)
    editable = [f.name for f in tracked if f.editable]
    delta = record.diff_against(previous, included_fields=editable)
    found = [(model._meta.get_field(c.field), c.field, c.old, c.new) for c in delta.changes]
    for model_field in tracked:
        if model_field.editable:
            continue
        old = getattr(previous, model_field.attname)
        new = getattr(record, model_field.attname)
        if old != new:
            found.append((model._meta.get_field(model_field.name), model_field.name, old, new))
    return found


def _history_subject(model, record, related: RelatedNames) -> str:
    if model is Borrower:
        return _("Borrower")
    if model is Household:
        return _("Household")
    if model is Position:
        return _("Position: %(title)s") % {"title": record.get_title_display()}
    return _("Driven household: %(household)s") % {
        "household": related.name(Household, record.household_id)
    }
