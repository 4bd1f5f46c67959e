"""The check constraints decided on the instance (common.constraints) agree
with the database's own answer, Django's query, for every check constraint
of the project, on values at and around each boundary: NULLs, zero,
negatives, equal and unequal fields. A constraint this module leaves to
the database is listed, so that a new kind of condition is noticed."""

import datetime
from decimal import Decimal

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import models
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.constraints import (
    UnsupportedConditionError,
    check_constraint_holds,
    validate_check_constraint,
)
from common.history import validate_for_save

PROJECT_APPS = {"accounts", "beneficiaries", "divisions", "loans", "reports", "subsidies"}

# Conditions with a regex (the division code's shape) or arithmetic (a
# subsidy line's sum, rounded): left to the database's query.
LEFT_TO_THE_DATABASE = {
    "division_code_is_digits",
    "subsidy_line_due_adds_up",
    "subsidy_adjustment_adds_up",
}

CHECKS = [
    pytest.param(model, constraint, id=f"{model._meta.label}.{constraint.name}")
    for model in apps.get_models()
    if model._meta.app_label in PROJECT_APPS and not model.__name__.startswith("Historical")
    for constraint in model._meta.constraints
    if isinstance(constraint, models.CheckConstraint)
]


def values_for(field) -> st.SearchStrategy:
    """Values at the boundaries the project's conditions draw."""
    nullable = [None] if field.null else []
    if field.choices:
        return st.sampled_from([value for value, _label in field.flatchoices] + nullable)
    if isinstance(field, models.ForeignKey):
        return st.sampled_from([1, 2, *nullable])
    if isinstance(field, models.DecimalField):
        pool = ["-1", "0", "0.01", "0.5", "1", "1.5", "100", "1000000"]
        return st.sampled_from([Decimal(text) for text in pool] + nullable)
    if isinstance(field, models.IntegerField):
        return st.sampled_from([-1, 0, 1, 2, 12, 60, 100, *nullable])
    if isinstance(field, models.DateField):
        days = [datetime.date(2025, 1, 1), datetime.date(2025, 6, 30), datetime.date(2026, 1, 1)]
        return st.sampled_from(days + nullable)
    if isinstance(field, models.BooleanField):
        return st.sampled_from([True, False, *nullable])
    if isinstance(field, models.CharField):
        return st.sampled_from(["", "530822", "x", *nullable])
    return st.sampled_from(nullable or [None])


def test_every_check_constraint_is_decided_without_a_query_but_three():
    left = set()
    for param in CHECKS:
        model, constraint = param.values
        try:
            check_constraint_holds(constraint, model())
        except UnsupportedConditionError:
            left.add(constraint.name)
    assert left == LEFT_TO_THE_DATABASE
    assert len(CHECKS) > 20


@pytest.mark.parametrize(("model", "constraint"), CHECKS)
@pytest.mark.django_db
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_the_instance_gets_the_databases_answer(model, constraint, data):
    instance = model()
    fields = [
        field
        for field in model._meta.concrete_fields
        if not field.primary_key and not isinstance(field, models.DateTimeField)
    ]
    for field in fields:
        setattr(instance, field.attname, data.draw(values_for(field), label=field.name))

    def outcome(check):
        try:
            check(constraint, model, instance)
        except ValidationError as error:
            return error.messages
        return None

    database = outcome(lambda c, m, i: c.validate(m, i, exclude=set(), using="default"))
    here = outcome(
        lambda c, m, i: validate_check_constraint(c, m, i, exclude=set(), using="default")
    )
    assert here == database


@pytest.mark.django_db
def test_a_ledger_entry_is_validated_with_no_query_but_its_unique_constraints(
    django_assert_num_queries,
):
    from loans.models import LedgerEntry

    entry = LedgerEntry(
        coop_id=1,
        txn_id="T-1",
        loan_id=1,
        county_id=1,
        kind=LedgerEntry.Kind.PRINCIPAL,
        amount=Decimal("0"),
        paid_on=datetime.date(2025, 3, 1),
    )
    # The foreign keys are ids here, not loaded rows, so each set one is
    # asked for (coop, loan, county: 3), then the unique (coop, txn_id): 1.
    # The amount's check fails with Django's message, decided without a
    # query (Django's own full_clean asks 3 more, one per check).
    with django_assert_num_queries(4), pytest.raises(ValidationError) as raised:
        validate_for_save(entry)
    assert "ledger_amount_positive" in " ".join(raised.value.messages)
