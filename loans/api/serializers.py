"""What goes over the wire: amounts as decimal strings with 2 places, rates
with 6, dates as ISO ``YYYY-MM-DD``, times as ISO 8601 with the offset.

Input fields are strict about JSON types: an amount sent as a JSON number
(``890.92`` rather than ``"890.92"``) is refused, so no float rounding can
creep into the ledger on the way in, and what the schema forbids the API
refuses. Serializers here parse and render only; the rules live in
``loans.services`` and ``loans.api.ingest``.
"""

import datetime
import re
from collections.abc import Callable
from decimal import Decimal

from django.core.validators import MaxLengthValidator
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import (
    ProhibitNullCharactersValidator,
    ProhibitSurrogateCharactersValidator,
)

from loans.models import Application, Loan

AMOUNT_PATTERN = r"^-?[0-9]{1,12}(\.[0-9]{1,2})?$"
RATE_PATTERN = r"^[0-9]{1,2}(\.[0-9]{1,6})?$"
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


class _StrictDecimalField(serializers.DecimalField):
    """A decimal sent as a JSON string in plain notation ("890.92")."""

    pattern: re.Pattern

    def to_internal_value(self, data):
        if not isinstance(data, str) or not self.pattern.fullmatch(data):
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_field(
    {"type": "string", "format": "decimal", "pattern": AMOUNT_PATTERN, "example": "890.92"}
)
class AmountField(_StrictDecimalField):
    """Yuan with 2 decimal places, as a string."""

    pattern = re.compile(AMOUNT_PATTERN)

    def __init__(self, **kwargs):
        super().__init__(max_digits=14, decimal_places=2, **kwargs)


@extend_schema_field(
    {"type": "string", "format": "decimal", "pattern": RATE_PATTERN, "example": "0.034500"}
)
class RateField(_StrictDecimalField):
    """An annual rate as a fraction with 6 decimal places ("0.034500" is 3.45 %)."""

    pattern = re.compile(RATE_PATTERN)

    def __init__(self, **kwargs):
        super().__init__(max_digits=8, decimal_places=6, **kwargs)


@extend_schema_field({"type": "string", "format": "date", "pattern": DATE_PATTERN})
class IsoDateField(serializers.DateField):
    """A calendar date as ``YYYY-MM-DD`` and nothing else."""

    pattern = re.compile(DATE_PATTERN)

    def to_internal_value(self, value):
        if isinstance(value, datetime.date) or not (
            isinstance(value, str) and self.pattern.fullmatch(value)
        ):
            self.fail("invalid", format="YYYY-MM-DD")
        return super().to_internal_value(value)


class TextField(serializers.CharField):
    """A JSON string (numbers are not silently turned into text)."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_field({"type": "integer", "minimum": 1})
class IdField(serializers.IntegerField):
    """A JSON integer id (not a string of digits, not a boolean)."""

    def __init__(self, **kwargs):
        super().__init__(min_value=1, **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise serializers.ValidationError(
            _("The amount must be more than zero."), code="amount_not_positive"
        )
    return value


# Errors ---------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField(
        required=False, help_text="Position of the row in a posted list (batches only)."
    )
    field = serializers.CharField(
        allow_null=True, help_text="The field at fault; null when the error is about no field."
    )
    code = serializers.CharField(help_text="A stable code for programs, e.g. unknown_contract.")
    message = serializers.CharField(help_text="For people, in the request's language.")


class ErrorEnvelopeSerializer(serializers.Serializer):
    errors = ErrorSerializer(many=True)


# Applications ---------------------------------------------------------------


class ApplicationSerializer(serializers.Serializer):
    """A released application, with what the co-op needs for the contract."""

    id = serializers.IntegerField()
    programme = serializers.IntegerField(source="programme_id", help_text="Programme id.")
    programme_name = serializers.CharField(source="programme.name")
    programme_year = serializers.IntegerField(source="programme.year")
    applicant_type = serializers.SerializerMethodField(
        help_text="A person (borrower) or an enterprise borrowing itself."
    )
    borrower_name = serializers.SerializerMethodField()
    id_number = serializers.SerializerMethodField(
        help_text="The whole resident ID number (for an enterprise, its unified social "
        "credit code)."
    )
    phone = serializers.SerializerMethodField()
    township_code = serializers.CharField(source="township.code")
    township_name = serializers.CharField(source="township.name")
    village = serializers.SerializerMethodField(help_text="The village's name.")
    village_code = serializers.SerializerMethodField()
    category = serializers.SerializerMethodField(
        help_text="The borrower's category (null for an enterprise)."
    )
    industry = serializers.CharField(source="industry.name")
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    term_months = serializers.IntegerField()
    released_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    contract_no = serializers.SerializerMethodField(
        help_text="The contract the co-op posted for it; null until then."
    )

    @extend_schema_field(serializers.ChoiceField(choices=["borrower", "enterprise"]))
    def get_applicant_type(self, application: Application) -> str:
        return "borrower" if application.borrower_id else "enterprise"

    def get_borrower_name(self, application: Application) -> str:
        return application.applicant.name

    def get_id_number(self, application: Application) -> str:
        if application.borrower_id:
            return application.borrower.id_number
        return application.enterprise.credit_code

    def get_phone(self, application: Application) -> str:
        return application.applicant.phone

    def _village(self, application: Application):
        if application.borrower_id:
            return application.borrower.household.village_group.parent
        return application.enterprise.village

    def get_village(self, application: Application) -> str:
        return self._village(application).name

    def get_village_code(self, application: Application) -> str:
        return self._village(application).code

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_category(self, application: Application) -> str | None:
        return application.borrower.category if application.borrower_id else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_contract_no(self, application: Application) -> str | None:
        loan = getattr(application, "loan", None)
        return loan.contract_no if loan else None


# Loans -----------------------------------------------------------------------


class LoanCreateSerializer(serializers.Serializer):
    application = IdField(help_text="The id of a released application.")
    contract_no = TextField(max_length=40)
    principal = AmountField(validators=[_positive])
    annual_rate = RateField(min_value=Decimal("0.000001"), max_value=Decimal("0.999999"))
    disbursed_on = IsoDateField()
    maturity_on = IsoDateField()


class LoanSerializer(serializers.Serializer):
    """A loan with its position: ``balance`` is the principal less every
    repayment posted (reversed ones excluded); the totals sum what was posted."""

    contract_no = serializers.CharField()
    application = serializers.IntegerField(source="application_id")
    programme = serializers.IntegerField(source="programme_id")
    township_code = serializers.CharField(source="township.code")
    principal = serializers.DecimalField(max_digits=14, decimal_places=2)
    annual_rate = serializers.DecimalField(max_digits=8, decimal_places=6)
    disbursed_on = serializers.DateField()
    maturity_on = serializers.DateField()
    written_off_on = serializers.DateField(allow_null=True)
    status = serializers.ChoiceField(choices=Loan.Status.choices)
    balance = serializers.DecimalField(max_digits=14, decimal_places=2)
    principal_repaid = serializers.DecimalField(max_digits=14, decimal_places=2)
    interest_paid = serializers.DecimalField(max_digits=14, decimal_places=2)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


# Ledger ----------------------------------------------------------------------


class InterestPaymentSerializer(serializers.Serializer):
    """Interest collected for one settlement period (both ends inclusive)."""

    txn_id = TextField(max_length=64, help_text="The co-op's own id, unique per co-op.")
    contract_no = TextField(max_length=40)
    period_start = IsoDateField()
    period_end = IsoDateField()
    due_on = IsoDateField()
    paid_on = IsoDateField()
    amount = AmountField()


class RepaymentSerializer(serializers.Serializer):
    """Principal repaid."""

    txn_id = TextField(max_length=64, help_text="The co-op's own id, unique per co-op.")
    contract_no = TextField(max_length=40)
    paid_on = IsoDateField()
    amount = AmountField()


class RowOutcomeSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    txn_id = serializers.CharField()
    status = serializers.ChoiceField(choices=["created", "already_exists"])


class BatchResultSerializer(serializers.Serializer):
    created = serializers.IntegerField(help_text="Rows written by this request.")
    already_exists = serializers.IntegerField(
        help_text="Rows that were already recorded with the same content (nothing changed)."
    )
    results = RowOutcomeSerializer(many=True, source="rows")


class ReversalCreateSerializer(serializers.Serializer):
    txn_id = TextField(max_length=64, help_text="The reversal's own id, unique per co-op.")
    reverses_txn_id = TextField(max_length=64, help_text="The entry to undo.")
    reason = TextField(max_length=200)
    paid_on = IsoDateField(required=False, help_text="The day it takes effect; default today.")


class ReversalSerializer(serializers.Serializer):
    txn_id = serializers.CharField()
    reverses_txn_id = serializers.CharField(source="reverses.txn_id")
    reversed_kind = serializers.ChoiceField(
        source="reverses.kind", choices=["interest", "principal"]
    )
    contract_no = serializers.CharField(source="loan.contract_no")
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    paid_on = serializers.DateField()
    reason = serializers.CharField()
    status = serializers.ChoiceField(source="outcome", choices=["created", "already_exists"])


# The quick path for batches --------------------------------------------------------

_FAIL = object()
_TEXT_VALIDATORS = (
    MaxLengthValidator,
    ProhibitNullCharactersValidator,
    ProhibitSurrogateCharactersValidator,
)


def _quick_text(field: TextField):
    if field.allow_blank or not field.trim_whitespace or field.min_length is not None:
        return None
    if not all(isinstance(v, _TEXT_VALIDATORS) for v in field.validators):
        return None
    limit = field.max_length

    def convert(value):
        if type(value) is not str or not value or len(value) > limit or value != value.strip():
            return _FAIL
        if "\x00" in value or not value.isascii() and _has_surrogate(value):
            return _FAIL
        return value

    return convert


def _has_surrogate(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _quick_decimal(field: _StrictDecimalField):
    if field.validators:
        return None
    pattern, exponent = field.pattern, Decimal(1).scaleb(-field.decimal_places)

    def convert(value):
        if type(value) is not str or not pattern.fullmatch(value):
            return _FAIL
        return Decimal(value).quantize(exponent)

    return convert


def _quick_date(field: IsoDateField):
    if field.validators:
        return None
    pattern = field.pattern

    def convert(value):
        if type(value) is not str or not pattern.fullmatch(value):
            return _FAIL
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            return _FAIL

    return convert


def quick_parser(serializer: serializers.Serializer) -> Callable[[object], dict | None]:
    """A fast parse of one well-formed row of a batch, for serializers made
    only of required ``TextField``, ``AmountField``/``RateField`` and
    ``IsoDateField`` (without extra validators).

    For a row it accepts it returns exactly what ``serializer.run_validation``
    would (tests/api/test_ledger_posts.py checks this); for anything else it
    returns None, and the caller runs the serializer to get the worded
    errors. DRF's field machinery costs about 0.2 ms a row, most of the time
    of a 5,000-row batch that is otherwise checked in a few queries.
    """
    makers = {TextField: _quick_text, IsoDateField: _quick_date}
    converters = []
    simple = type(serializer).validate is serializers.Serializer.validate
    for name, field in serializer.fields.items():
        maker = makers.get(type(field))
        if isinstance(field, _StrictDecimalField):
            maker = _quick_decimal
        convert = maker(field) if maker and field.required and not field.read_only else None
        if convert is None or field.source != name:
            simple = False
            break
        converters.append((name, convert))
    if not simple:
        return lambda row: None

    def parse(row):
        if type(row) is not dict:
            return None
        parsed = {}
        for name, convert in converters:
            value = convert(row.get(name, _FAIL))
            if value is _FAIL:
                return None
            parsed[name] = value
        return parsed

    return parse
