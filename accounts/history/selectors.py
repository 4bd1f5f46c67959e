"""The change history of every audited model, searched as one list: by
person, record, user and date, newest first (the auditor's page and its
export).

Each model keeps its history in its own table (django-simple-history); a
search is one ``UNION ALL`` of the tables it concerns, ordered and sliced in
the database. A page of results is then read with two queries per model on
the page (its rows, each with the previous version of its record, and those
previous versions) and one per kind of record its changes point to: the
count does not grow with the number of rows.

Models are looked up by label, not imported: accounts sits below the apps
whose history it reads.
"""

import datetime
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.apps import apps
from django.db.models import CharField, OuterRef, Q, Subquery, Value
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.roles import Role, role_of
from common.history import historical_models
from common.masking import mask_account, mask_phone, mask_resident_id

# Who may read the whole history (DOMAIN.md section 3: the auditor; the
# county programme office, which configures and approves). Township
# officers see their own records' history on the records' pages.
HISTORY_ROLES = frozenset({Role.AUDITOR, Role.COUNTY})

# Never shown as a change: bookkeeping or secrets, not data.
SKIPPED_FIELDS = frozenset({"id", "created_at", "updated_at", "key_hash"})

# Shown masked to users who may not see whole numbers.
MASKED_FIELDS = {
    "id_number": mask_resident_id,
    "head_id_number": mask_resident_id,
    "phone": mask_phone,
    "account_number": mask_account,
}

KIND_LABELS = {
    "+": gettext_lazy("Created"),
    "~": gettext_lazy("Changed"),
    "-": gettext_lazy("Deleted"),
}

# A name for a record, read from its own history row (no query).
_RECORD_NAMES = {
    "beneficiaries.borrower": lambda row: row.name,
    "beneficiaries.household": lambda row: row.head_name,
    "beneficiaries.enterprise": lambda row: row.name,
    "divisions.division": lambda row: row.name,
    "beneficiaries.industry": lambda row: row.name,
    "loans.programme": lambda row: "%s %s" % (row.name, row.year),
    "loans.publicnotice": lambda row: row.title,
    "loans.loan": lambda row: row.contract_no,
    "loans.ledgerentry": lambda row: row.txn_id,
    "loans.lprrate": lambda row: str(row.effective_on),
    "loans.apikey": lambda row: "%s…" % row.prefix,
    "subsidies.subsidyrun": lambda row: str(row.year),
}
# Records with no name of their own are named after the record they belong to.
_RECORD_OWNERS = {
    "beneficiaries.position": "borrower",
    "beneficiaries.drivenhousehold": "household",
    "loans.application": "borrower",
    "loans.programmequota": "programme",
    "loans.objection": "entry",
    "subsidies.subsidyline": "loan",
    "subsidies.paymentbatch": "run",
}
# What a related record's name needs joined, so that naming it costs no query.
_NAME_JOINS = {
    "beneficiaries.industry": ("parent",),
    "subsidies.subsidyrun": ("programme",),
    "subsidies.paymentbatch": ("run__programme",),
    "subsidies.subsidyline": ("run__programme", "loan"),
    "loans.programmequota": ("programme",),
    "loans.noticeentry": ("application",),
}


def may_view_history(user) -> bool:
    return role_of(user) in HISTORY_ROLES


def audited_models() -> dict[str, type]:
    """label ("loans.loan") -> model, for every model with a history, in
    app and name order."""
    found = {
        historical.instance_type._meta.label_lower: historical.instance_type
        for historical in historical_models()
    }
    return dict(sorted(found.items(), key=lambda item: (item[1]._meta.app_label, item[0])))


def _historical(model):
    return getattr(model, model._meta.simple_history_manager_attribute).model


@dataclass(frozen=True)
class HistoryFilter:
    """A search of the history; every part is optional."""

    person: str = ""  # a borrower's or household head's name, ID or mobile number
    model: str = ""  # a label of audited_models()
    record: int | None = None  # the record's id (with ``model``)
    user_id: int | None = None  # who made the change
    date_from: datetime.date | None = None
    date_to: datetime.date | None = None  # inclusive

    def describe(self) -> str:
        """The search as text, for the export log."""
        parts = [
            "%s=%s" % (name, value)
            for name, value in (
                ("person", self.person),
                ("model", self.model),
                ("record", self.record),
                ("user", self.user_id),
                ("from", self.date_from),
                ("to", self.date_to),
            )
            if value not in ("", None)
        ]
        return " ".join(parts)


_RESIDENT_ID = re.compile(r"^\d{17}[\dX]$")
_MOBILE = re.compile(r"^1\d{10}$")


class _Person:
    """The records of the people a search names: borrowers matching by name,
    ID or mobile number (as recorded now or at any time before), households
    headed by such a person or those borrowers', the applications of either,
    the loans of those applications. Each set is a subquery of ids."""

    def __init__(self, text: str):
        text = text.strip().upper()
        Borrower = apps.get_model("beneficiaries", "Borrower")
        Household = apps.get_model("beneficiaries", "Household")
        Application = apps.get_model("loans", "Application")
        Loan = apps.get_model("loans", "Loan")
        if _RESIDENT_ID.match(text):
            borrower_q, head_q = Q(id_number=text), Q(head_id_number=text)
        elif _MOBILE.match(text):
            borrower_q, head_q = Q(phone=text), Q(pk__in=[])
        else:
            borrower_q, head_q = Q(name__icontains=text), Q(head_name__icontains=text)
        self.borrowers = [
            _historical(Borrower).objects.filter(borrower_q).values("id"),
            Borrower.objects.filter(borrower_q).values("id"),
        ]
        self.heads = [_historical(Household).objects.filter(head_q).values("id")]
        self.households = [
            *self.heads,
            _historical(Borrower).objects.filter(_any("id", self.borrowers)).values("household_id"),
        ]
        applications = _historical(Application).objects.filter(
            _any("borrower_id", self.borrowers) | _any("household_id", self.heads)
        )
        self.applications = [applications.values("id")]
        loans = _historical(Loan).objects.filter(_any("application_id", self.applications))
        self.loans = [loans.values("id")]

    def condition(self, label: str) -> Q | None:
        """The rows of model ``label`` that belong to the person; None for a
        model that belongs to no person."""
        conditions = {
            "beneficiaries.borrower": lambda: _any("id", self.borrowers),
            "beneficiaries.household": lambda: _any("id", self.households),
            "beneficiaries.position": lambda: _any("borrower_id", self.borrowers),
            "beneficiaries.drivenhousehold": lambda: (
                _any("borrower_id", self.borrowers) | _any("household_id", self.heads)
            ),
            "loans.application": lambda: _any("id", self.applications),
            "loans.loan": lambda: _any("id", self.loans),
            "loans.ledgerentry": lambda: _any("loan_id", self.loans),
            "subsidies.subsidyline": lambda: _any("loan_id", self.loans),
        }
        return conditions[label]() if label in conditions else None


def _any(column: str, subqueries) -> Q:
    """Rows whose ``column`` is in any of the id subqueries."""
    condition = Q(pk__in=[])
    for subquery in subqueries:
        condition |= Q(**{column + "__in": subquery})
    return condition


def _day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def history_search(search: HistoryFilter):
    """The history rows ``search`` finds as (history_date, history_id,
    model label, record id) tuples, newest first: a queryset to count and
    slice (a Paginator's object list), or an empty list."""
    models = audited_models()
    if search.model:
        models = {search.model: models[search.model]} if search.model in models else {}
    person = _Person(search.person) if search.person.strip() else None
    common = Q()
    if search.user_id is not None:
        common &= Q(history_user_id=search.user_id)
    if search.date_from is not None:
        common &= Q(history_date__gte=_day_start(search.date_from))
    if search.date_to is not None:
        common &= Q(history_date__lt=_day_start(search.date_to + datetime.timedelta(days=1)))
    branches = []
    for label, model in models.items():
        condition = common
        if search.record is not None:
            condition &= Q(id=search.record)
        if person is not None:
            belongs = person.condition(label)
            if belongs is None:
                continue
            condition &= belongs
        branches.append(
            _historical(model)
            .objects.filter(condition)
            .order_by()
            .annotate(model_label=Value(label, output_field=CharField()))
            .values_list("history_date", "history_id", "model_label", "id")
        )
    if not branches:
        return []
    first, *rest = branches
    rows = first.union(*rest, all=True) if rest else first
    return rows.order_by("-history_date", "-history_id", "model_label")


# Reading a page of rows ------------------------------------------------------------


@dataclass(frozen=True)
class FieldChange:
    label: str
    old: str
    new: str


@dataclass
class ChangeRow:
    """One recorded change: when, who, from where, which record, what."""

    when: datetime.datetime
    user: object
    ip_address: str | None
    model_label: str
    model_name: str
    record_id: int
    record_name: str
    kind: str  # "+", "~" or "-"
    reason: str
    changes: list[FieldChange] = field(default_factory=list)
    first_recorded: bool = False  # a change with no earlier version recorded

    @property
    def kind_label(self) -> str:
        return str(KIND_LABELS[self.kind])

    @property
    def record(self) -> str:
        if self.record_name:
            return "%s #%s · %s" % (self.model_name, self.record_id, self.record_name)
        return "%s #%s" % (self.model_name, self.record_id)


class RelatedNames:
    """Names of the records that foreign keys point to, one query per model."""

    def __init__(self):
        self.wanted: dict[type, set] = defaultdict(set)
        self.found: dict[type, dict] = {}

    def want(self, model, pk) -> None:
        if pk is not None:
            self.wanted[model].add(pk)

    def fetch(self) -> None:
        for model, pks in self.wanted.items():
            queryset = model._default_manager.all()
            joins = _NAME_JOINS.get(model._meta.label_lower)
            if joins:
                queryset = queryset.select_related(*joins)
            self.found[model] = queryset.in_bulk(pks)

    def name(self, model, pk) -> str:
        if pk is None:
            return ""
        obj = self.found.get(model, {}).get(pk)
        return str(obj) if obj is not None else "#%s" % pk


def _shown_fields(historical) -> list:
    return [f for f in historical.tracked_fields if f.name not in SKIPPED_FIELDS]


def display_value(model_field, value, related: RelatedNames, show_personal_data: bool) -> str:
    if value is None or value == "":
        return "—"
    if model_field.is_relation:
        return related.name(model_field.related_model, value)
    if model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if not show_personal_data and model_field.name in MASKED_FIELDS:
        return MASKED_FIELDS[model_field.name](str(value))
    return str(value)


def _changed(record, previous, fields) -> list[tuple]:
    """(field, old, new) for each shown field that differs between two
    versions. (simple-history's ``diff_against`` compares editable fields
    only; the derived ones, such as a state, matter as much here.)"""
    found = []
    for model_field in fields:
        old, new = _raw(previous, model_field), _raw(record, model_field)
        if old != new:
            found.append((model_field, old, new))
    return found


def _raw(record, model_field):
    return getattr(record, model_field.attname)


def history_rows(keys, *, show_personal_data: bool) -> list[ChangeRow]:
    """The changes of ``keys`` (tuples from ``history_search``), in order."""
    models = audited_models()
    by_model: dict[str, list[int]] = defaultdict(list)
    for _when, history_id, label, _record_id in keys:
        by_model[label].append(history_id)

    records: dict[tuple[str, int], object] = {}
    previous: dict[tuple[str, int], object] = {}
    related = RelatedNames()
    for label, history_ids in by_model.items():
        historical = _historical(models[label])
        earlier = historical.objects.filter(id=OuterRef("id")).filter(
            Q(history_date__lt=OuterRef("history_date"))
            | Q(history_date=OuterRef("history_date"), history_id__lt=OuterRef("history_id"))
        )
        rows = (
            historical.objects.filter(history_id__in=history_ids)
            .select_related("history_user")
            .annotate(
                previous_id=Subquery(
                    earlier.order_by("-history_date", "-history_id").values("history_id")[:1]
                )
            )
        )
        rows = {row.history_id: row for row in rows}
        wanted = [r.previous_id for r in rows.values() if r.history_type == "~" and r.previous_id]
        earlier_rows = historical.objects.in_bulk(wanted) if wanted else {}
        owner = _RECORD_OWNERS.get(label)
        for history_id, row in rows.items():
            records[label, history_id] = row
            if row.previous_id in earlier_rows:
                previous[label, history_id] = earlier_rows[row.previous_id]
            if owner:
                owner_field = historical._meta.get_field(owner)
                related.want(owner_field.related_model, getattr(row, owner_field.attname))

    diffs = {}
    for (label, history_id), row in records.items():
        fields = _shown_fields(type(row))
        before = previous.get((label, history_id))
        if row.history_type == "~":
            found = _changed(row, before, fields) if before is not None else []
        elif row.history_type == "+":
            found = [(f, None, _raw(row, f)) for f in fields if _raw(row, f) not in (None, "")]
        else:
            found = [(f, _raw(row, f), None) for f in fields if _raw(row, f) not in (None, "")]
        diffs[label, history_id] = found
        for model_field, old, new in found:
            if model_field.is_relation:
                related.want(model_field.related_model, old)
                related.want(model_field.related_model, new)
    related.fetch()

    result = []
    for _when, history_id, label, _record_id in keys:
        row = records.get((label, history_id))
        if row is None:
            continue
        model = models[label]
        changes = [
            FieldChange(
                label=capfirst(str(model_field.verbose_name)),
                old=display_value(model_field, old, related, show_personal_data),
                new=display_value(model_field, new, related, show_personal_data),
            )
            for model_field, old, new in diffs[label, history_id]
        ]
        result.append(
            ChangeRow(
                when=row.history_date,
                user=row.history_user,
                ip_address=row.ip_address,
                model_label=label,
                model_name=capfirst(str(model._meta.verbose_name)),
                record_id=row.id,
                record_name=_record_name(label, row, related),
                kind=row.history_type,
                reason=row.history_change_reason or "",
                changes=changes,
                first_recorded=row.history_type == "~" and (label, history_id) not in previous,
            )
        )
    return result


def _record_name(label: str, row, related: RelatedNames) -> str:
    if label in _RECORD_NAMES:
        return _RECORD_NAMES[label](row) or ""
    owner = _RECORD_OWNERS.get(label)
    if owner:
        owner_field = type(row)._meta.get_field(owner)
        return related.name(owner_field.related_model, getattr(row, owner_field.attname))
    return ""


def history_export_rows(keys, *, show_personal_data: bool, chunk: int = 1000):
    """The ChangeRows of ``keys`` (a list from ``history_search``), read a
    chunk at a time."""
    for start in range(0, len(keys), chunk):
        yield from history_rows(keys[start : start + chunk], show_personal_data=show_personal_data)
