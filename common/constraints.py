"""Check constraints evaluated on the instance, without a query.

Django validates a ``CheckConstraint`` by compiling and running one query
per constraint per save, which is most of what posting a ledger entry cost.
The project's conditions are comparisons of a field with a constant or
another field, ``isnull`` and the connectives: those are decided here in
Python, with SQL's three-valued logic (a comparison with NULL is unknown,
and a CHECK passes unless its condition is false, as in Django's
``Coalesce(condition, True)``). A condition with anything else (a function,
a join, a regex) is left to Django's own query, so the answer is always
the database's.
"""

import operator

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import F, Q

_COMPARE = {
    "exact": operator.eq,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


class UnsupportedConditionError(Exception):
    """The condition uses something this module does not decide."""


def _field(instance, name: str):
    if "__" in name:
        raise UnsupportedConditionError(name)
    try:
        return instance._meta.get_field(name)
    except FieldDoesNotExist as error:
        raise UnsupportedConditionError(name) from error


def _operand(instance, value, names: set[str]):
    if isinstance(value, F):
        field = _field(instance, value.name)
        names.add(field.name)
        return getattr(instance, field.attname)
    if hasattr(value, "resolve_expression"):
        raise UnsupportedConditionError(repr(value))
    return value


def _leaf(instance, lookup: str, value, names: set[str]) -> bool | None:
    name, _, kind = lookup.partition("__")
    kind = kind or "exact"
    field = _field(instance, name)
    names.add(field.name)
    current = getattr(instance, field.attname)
    if kind == "isnull" or (kind == "exact" and value is None):
        wanted = True if kind == "exact" else bool(_operand(instance, value, names))
        return (current is None) == wanted
    if kind not in _COMPARE:
        raise UnsupportedConditionError(lookup)
    other = _operand(instance, value, names)
    if current is None or other is None:
        return None
    return _COMPARE[kind](current, other)


def _decide(instance, node: Q, names: set[str]) -> bool | None:
    results = []
    for child in node.children:
        if isinstance(child, Q):
            results.append(_decide(instance, child, names))
        elif isinstance(child, tuple):
            results.append(_leaf(instance, *child, names))
        else:
            raise UnsupportedConditionError(repr(child))
    if node.connector == Q.AND:
        result = False if False in results else None if None in results else True
    else:
        result = True if True in results else None if None in results else False
    if node.negated and result is not None:
        result = not result
    return result


def check_constraint_holds(constraint, instance) -> tuple[bool | None, set[str]]:
    """Whether ``instance`` passes ``constraint`` (None: SQL's unknown, which
    passes), with the fields the condition reads. Raises ``UnsupportedConditionError``
    for a condition this module leaves to the database."""
    names: set[str] = set()
    return _decide(instance, constraint.condition, names), names


def validate_check_constraint(constraint, model, instance, *, exclude, using) -> None:
    """``constraint.validate`` with the same error, decided without a query
    where the condition allows it. Skipped, as Django skips it, when the
    condition reads an excluded field."""
    try:
        holds, names = check_constraint_holds(constraint, instance)
    except UnsupportedConditionError:
        constraint.validate(model, instance, exclude=exclude, using=using)
        return
    if names & set(exclude or ()):
        return
    if holds is False:
        raise ValidationError(
            constraint.get_violation_error_message(), code=constraint.violation_error_code
        )
