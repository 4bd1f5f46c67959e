"""The fund's forms: its parameters, a deposit, a claim, the steps of a claim."""

import datetime

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils.translation import gettext_lazy as _

from loans.models import Programme

from .models import Fund, Movement
from .services import FUND_FIELDS


def add_service_error(error: ValidationError, form) -> None:
    """A service's error next to its field, or at the top of the form."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for key, errors in error.error_dict.items():
        field = key if key in form.fields and key != NON_FIELD_ERRORS else None
        form.add_error(field, errors)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class FundForm(forms.ModelForm):
    programmes = forms.ModelMultipleChoiceField(
        label=_("Programmes covered"),
        queryset=Programme.objects.none(),
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Fund
        fields = FUND_FIELDS

    def __init__(self, *args, programmes, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["programmes"].queryset = programmes
        if self.instance.pk:
            self.initial["programmes"] = list(self.instance.programmes.values_list("pk", flat=True))

    def _post_clean(self):
        # The service validates the model (and says why in the user's words).
        pass


class MovementForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=[(kind, Movement.Kind(kind).label) for kind in Movement.RECORDED_BY_FINANCE],
    )
    on = forms.DateField(label=_("Date"), widget=DateInput())
    amount = forms.DecimalField(label=_("Amount (yuan)"), max_digits=16, decimal_places=2)
    voucher = forms.CharField(label=_("Voucher"), max_length=40)
    note = forms.CharField(label=_("Note"), max_length=200, required=False)


class ClaimForm(forms.Form):
    """What the co-op types: which loan, its own claim id, the claim date.
    The loss is the system's to compute."""

    contract_no = forms.CharField(label=_("Contract number"), max_length=40)
    claim_id = forms.CharField(
        label=_("Claim id"), max_length=64, help_text=_("The co-op's own id for this claim.")
    )
    claimed_on = forms.DateField(
        label=_("Claim date"), widget=DateInput(), initial=datetime.date.today
    )


class CheckForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[("accept", _("Accept for finance")), ("reject", _("Reject"))],
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("Comment"),
        max_length=200,
        required=False,
        help_text=_("Required when rejecting: the co-op reads it."),
    )


class ApproveForm(forms.Form):
    voucher = forms.CharField(label=_("Payment voucher"), max_length=40)
    on = forms.DateField(label=_("Payment date"), widget=DateInput(), initial=datetime.date.today)


class StatementForm(forms.Form):
    """A year, or any date (the statement then runs from 1 January of that
    date's year to the date)."""

    year = forms.IntegerField(label=_("Year"), min_value=2000, max_value=2100, required=False)
    on = forms.DateField(label=_("As of"), widget=DateInput(), required=False)

    def period(self, today: datetime.date) -> tuple[datetime.date, datetime.date]:
        data = self.cleaned_data if self.is_valid() else {}
        if data.get("on"):
            return datetime.date(data["on"].year, 1, 1), data["on"]
        year = data.get("year") or today.year
        end = datetime.date(year, 12, 31)
        return datetime.date(year, 1, 1), min(end, max(today, datetime.date(year, 1, 1)))
