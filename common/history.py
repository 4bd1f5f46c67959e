"""The change history of domain records (django-simple-history), with the
address each change came from, kept append-only.

Every model whose changes must be kept declares ``history = traced_history()``.
The request user is recorded by simple-history's middleware; this module adds
the client's IP address. Imports, API calls and tasks say where a change came
from with ``history_change_reason`` (e.g. "import: borrowers.xlsx"); a task
that has no request names the user who started it with ``history_context``.

Writes that bypass ``save()`` (``QuerySet.update``, a raw delete, COPY) record
their rows with ``history_record_bulk``, one ``INSERT ... SELECT`` per call.

History rows are never changed or deleted through the application: the
historical models refuse ``save()`` of an existing row, ``delete()`` and
queryset updates and deletes, and on PostgreSQL a trigger refuses UPDATE and
DELETE of their tables whatever the client (``install_append_only_triggers``).
"""

import contextvars
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, EmptyResultSet, ValidationError
from django.db import connections, models, router
from django.db.models import ProtectedError
from django.db.models.functions import Cast
from django.db.models.signals import post_migrate, pre_delete
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.manager import HistoricalQuerySet
from simple_history.models import HistoricalRecords
from simple_history.signals import pre_create_historical_record

from common.constraints import validate_check_constraint


class HistoryAppendOnlyError(Exception):
    """Raised on an attempt to change or delete a history row."""

    def __init__(self, what: str = "change"):
        super().__init__("History rows are append-only: %s refused." % what)


class _AppendOnly:
    """Queryset methods that would rewrite history, refused."""

    def update(self, **kwargs):
        raise HistoryAppendOnlyError("update")

    def delete(self):
        raise HistoryAppendOnlyError("delete")

    def bulk_update(self, objs, fields, batch_size=None):
        raise HistoryAppendOnlyError("update")

    def update_or_create(self, *args, **kwargs):
        raise HistoryAppendOnlyError("update")


class AppendOnlyQuerySet(_AppendOnly, models.QuerySet):
    pass


class AppendOnlyHistoricalQuerySet(_AppendOnly, HistoricalQuerySet):
    pass


class TracedChange(models.Model):
    """The base of every historical model: the client's address, and a row
    that can be added but never saved again or deleted."""

    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding or kwargs.get("force_update") or kwargs.get("update_fields"):
            raise HistoryAppendOnlyError("update")
        # A row built with the id of an existing one must not overwrite it.
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise HistoryAppendOnlyError("delete")


_HISTORY_OPTIONS = {"bases": [TracedChange], "historical_queryset": AppendOnlyHistoricalQuerySet}


def traced_history(**kwargs) -> HistoricalRecords:
    """The history manager every audited model uses."""
    return HistoricalRecords(**_HISTORY_OPTIONS, **kwargs)


def historical_models() -> list[type[models.Model]]:
    """Every historical model of the project (those built on TracedChange)."""
    from django.apps import apps

    return [model for model in apps.get_models() if issubclass(model, TracedChange)]


# Who and why, where no request says ------------------------------------------


@dataclass(frozen=True)
class _Origin:
    user: object
    reason: str


_origin: contextvars.ContextVar[_Origin | None] = contextvars.ContextVar(
    "history_origin", default=None
)


@contextmanager
def history_context(*, user=None, reason: str = ""):
    """Name the user (the one who started a task; None for a scheduled one)
    and the reason for the history rows written inside, where a save does not
    say its own. A request's user, when there is one, still comes first."""
    token = _origin.set(_Origin(user=user, reason=reason))
    try:
        yield
    finally:
        _origin.reset(token)


def client_ip(request) -> str | None:
    """The client's address. Behind the production proxy (which says so with
    SECURE_PROXY_SSL_HEADER), the address it saw: the last X-Forwarded-For
    entry, which it appends; earlier entries are whatever the client wrote,
    and a history must not record an address of the client's choosing."""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if forwarded and getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        last = forwarded.rsplit(",", 1)[-1].strip()
        if last:
            return last
    return request.META.get("REMOTE_ADDR") or None


def _request():
    return getattr(HistoricalRecords.context, "request", None)


@receiver(pre_create_historical_record)
def record_client_ip(sender, history_instance, **kwargs):
    request = _request()
    if request is not None and hasattr(history_instance, "ip_address"):
        history_instance.ip_address = client_ip(request)
    origin = _origin.get()
    if origin is not None:
        if history_instance.history_user_id is None and origin.user is not None:
            history_instance.history_user = origin.user
        if not history_instance.history_change_reason and origin.reason:
            history_instance.history_change_reason = origin.reason


_UNSET = object()


def history_record_bulk(queryset, *, history_type: str, user=_UNSET, reason: str = "") -> int:
    """Record a history row for every row of ``queryset`` as it stands now,
    in one ``INSERT ... SELECT``: after a set-based insert or ``update()``
    (type "+" or "~"), before a set-based delete ("-"). Answers the number
    of rows recorded.

    ``user`` defaults to ``history_context``'s, then to the request's; the
    reason likewise. Saves through ``save()`` record their own row: calling
    this for them as well records the change twice.
    """
    model = queryset.model
    historical = getattr(model, model._meta.simple_history_manager_attribute).model
    origin = _origin.get()
    request = _request()
    if user is _UNSET:
        user = origin.user if origin is not None else None
        if user is None and request is not None and request.user.is_authenticated:
            user = request.user
    reason = reason or (origin.reason if origin is not None else "")
    ip_address = client_ip(request) if request is not None else None

    tracked = [field.attname for field in historical.tracked_fields]
    constants = {
        "zh_date": models.Value(timezone.now(), output_field=models.DateTimeField()),
        "zh_type": models.Value(history_type, output_field=models.CharField()),
        "zh_user": models.Value(getattr(user, "pk", None), output_field=models.BigIntegerField()),
        "zh_reason": models.Value(reason[:100], output_field=models.CharField()),
        "zh_ip": Cast(
            models.Value(ip_address, output_field=models.CharField()),
            output_field=models.GenericIPAddressField(),
        ),
    }
    select = queryset.order_by().annotate(**constants).values_list(*tracked, *constants)
    try:
        sql, params = select.query.get_compiler(using=queryset.db).as_sql()
    except EmptyResultSet:  # pk__in=[] and the like: nothing to record
        return 0
    meta = historical._meta
    columns = [meta.get_field(field.name).column for field in historical.tracked_fields]
    columns += [
        meta.get_field(name).column
        for name in (
            "history_date",
            "history_type",
            "history_user",
            "history_change_reason",
            "ip_address",
        )
    ]
    connection = connections[queryset.db]
    quote = connection.ops.quote_name
    insert = "INSERT INTO %s (%s) %s" % (
        quote(meta.db_table),
        ", ".join(quote(column) for column in columns),
        sql,
    )
    with connection.cursor() as cursor:
        cursor.execute(insert, params)
        return cursor.rowcount


# Append-only, also below the application -------------------------------------


@receiver(pre_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="common.history.keep_users")
def keep_users_named_in_history(sender, instance, **kwargs):
    """Deleting a user would blank the "who" of every change they made:
    deactivate the account instead."""
    for historical in historical_models():
        if historical._base_manager.filter(history_user_id=instance.pk).exists():
            raise ProtectedError(
                "%s made changes kept in the history; deactivate the account instead." % instance,
                set(),
            )


_TRIGGER_FUNCTION = """
CREATE OR REPLACE FUNCTION zxd_history_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- A migration that must rewrite history rows says so for its session.
    IF current_setting('zxd.history_maintenance', true) = 'on' THEN
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'history rows are append-only: % on % refused', TG_OP, TG_TABLE_NAME;
END
$$
"""


@receiver(post_migrate, dispatch_uid="common.history.append_only_triggers")
def install_append_only_triggers(sender, using="default", **kwargs):
    """On PostgreSQL, refuse UPDATE and DELETE of every historical table, so
    that not even SQL through the application's connection rewrites history.
    Runs after every ``migrate`` (once, for this app), so tables added later
    are covered too. TRUNCATE (the test runner's flush) is not refused."""
    connection = connections[using]
    if sender.name != "accounts" or connection.vendor != "postgresql":
        return
    existing = set(connection.introspection.table_names())
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(_TRIGGER_FUNCTION)
        for historical in historical_models():
            table = historical._meta.db_table
            if table not in existing:
                continue
            cursor.execute("DROP TRIGGER IF EXISTS zxd_append_only ON %s" % quote(table))
            cursor.execute(
                "CREATE TRIGGER zxd_append_only BEFORE UPDATE OR DELETE ON %s "
                "FOR EACH ROW EXECUTE FUNCTION zxd_history_append_only()" % quote(table)
            )


def _loaded_relations(instance) -> set[str]:
    """The foreign keys of ``instance`` set to a model instance already
    loaded, with no ``limit_choices_to``: validating one would only ask the
    database again whether the row it came from exists."""
    return {
        field.name
        for field in instance._meta.concrete_fields
        if field.many_to_one
        and not field.remote_field.limit_choices_to
        and field.is_cached(instance)
        and field.get_cached_value(instance) is not None
    }


def validate_for_save(instance, *, exclude=None) -> None:
    """``full_clean`` without its two costliest parts, a query each per
    save: the existence check of a foreign key set to a loaded instance (a
    row that vanished meanwhile fails at the insert, on the database's own
    key), and the query per check constraint, which is decided on the
    instance instead where its condition allows (``common.constraints``).
    The errors are those of ``full_clean``."""
    exclude = set(exclude or ())
    errors: dict = {}
    try:
        instance.clean_fields(exclude=exclude | _loaded_relations(instance))
    except ValidationError as error:
        errors = error.update_error_dict(errors)
    try:
        instance.clean()
    except ValidationError as error:
        errors = error.update_error_dict(errors)
    exclude |= {name for name in errors if name != NON_FIELD_ERRORS}
    try:
        instance.validate_unique(exclude=exclude)
    except ValidationError as error:
        errors = error.update_error_dict(errors)
    using = router.db_for_write(type(instance), instance=instance)
    for model, constraints in instance.get_constraints():
        for constraint in constraints:
            try:
                if isinstance(constraint, models.CheckConstraint):
                    validate_check_constraint(
                        constraint, model, instance, exclude=exclude, using=using
                    )
                else:
                    constraint.validate(model, instance, exclude=exclude, using=using)
            except ValidationError as error:
                if error.code == "unique" and len(constraint.fields) == 1:
                    errors.setdefault(constraint.fields[0], []).append(error)
                else:
                    errors = error.update_error_dict(errors)
    if errors:
        raise ValidationError(errors)


def save_traced(instance, *, actor, reason: str | None = None, exclude=None):
    """Validate (``validate_for_save``), then save with the actor (and why)
    in the history: how every service saves one record."""
    validate_for_save(instance, exclude=exclude)
    instance._history_user = actor
    if reason:
        instance._change_reason = reason
    instance.save()
    return instance
