"""The form staff use to record a loan contract in the browser.

It parses and nothing more: the rules (principal within the approval, rate
within the ceiling, maturity within the term, contract number unique per
co-op) live in ``loans.services.loan_create``, whose field-keyed errors the
view puts back on this form with ``add_service_error``.
"""

from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.roles import counties_of
from common.money import yuan
from loans.models import Application, CreditCoop

from .selectors import released_without_loan

# A rate typed as a percentage (3.45) is stored as a fraction (0.034500).
RATE_PLACES = Decimal("0.000001")


class ApplicationChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, application: Application) -> str:
        return gettext("No. %(number)s · %(applicant)s · %(amount)s yuan · %(programme)s") % {
            "number": application.pk,
            "applicant": application.applicant,
            "amount": yuan(application.amount),
            "programme": application.programme,
        }


class LoanContractForm(forms.Form):
    """A contract for a released application that has no loan yet."""

    application = ApplicationChoiceField(
        label=_("Released application"),
        queryset=Application.objects.none(),
        empty_label=_("Choose an application"),
        error_messages={
            "invalid_choice": _(
                "Choose an application released to the co-op that has no contract yet."
            )
        },
    )
    coop = forms.ModelChoiceField(
        label=_("Credit co-op"), queryset=CreditCoop.objects.all(), empty_label=None
    )
    contract_no = forms.CharField(label=_("Contract number"), max_length=40)
    principal = forms.DecimalField(
        label=_("Principal (yuan)"),
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        help_text=_("At most the approved amount."),
    )
    annual_rate = forms.DecimalField(
        label=_("Annual rate in per cent"),
        max_digits=8,
        decimal_places=4,
        min_value=Decimal("0.0001"),
        max_value=Decimal("99.9999"),
        help_text=_("As a percentage: enter 3.45 for 3.45 per cent a year (stored as 0.034500)."),
    )
    disbursed_on = forms.DateField(
        label=_("Disbursed on"), widget=forms.DateInput(attrs={"type": "date"})
    )
    maturity_on = forms.DateField(
        label=_("Matures on"), widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["application"].queryset = released_without_loan(user=user)
        # The co-ops that lend in the user's counties; another county's co-op
        # is an invalid choice.
        self.fields["coop"].queryset = CreditCoop.objects.filter(
            counties__in=counties_of(user)
        ).distinct()
        coops = list(self.fields["coop"].queryset)
        if len(coops) == 1:
            self.fields["coop"].initial = coops[0].pk

    def clean_contract_no(self) -> str:
        return self.cleaned_data["contract_no"].strip()

    def clean_annual_rate(self) -> Decimal:
        """The percentage typed, as the fraction the contract stores."""
        return (self.cleaned_data["annual_rate"] / 100).quantize(RATE_PLACES)

    def clean(self):
        cleaned = super().clean()
        disbursed_on, maturity_on = cleaned.get("disbursed_on"), cleaned.get("maturity_on")
        if disbursed_on and maturity_on and maturity_on <= disbursed_on:
            self.add_error("maturity_on", _("The maturity must come after the disbursement."))
        return cleaned

    def service_data(self) -> dict:
        return dict(self.cleaned_data)


def add_service_error(error: ValidationError, form: forms.Form) -> None:
    """Show a service's ValidationError on the form: each message under its
    field, or above the form for fields the form does not have."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for name, messages in error.message_dict.items():
        form.add_error(name if name in form.fields else None, messages)
