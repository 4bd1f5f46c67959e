"""The forms of the payout page: the bank's payment of a whole batch, and one
line's outcome (paid, or failed with the bank's reason).

They parse and nothing more: the rules (a voucher number, a payment date
that is not in the future, only issued lines) live in the payout services,
whose field-keyed errors the views put back on these forms.
"""

from django import forms
from django.utils.translation import gettext_lazy as _

from subsidies.models import SubsidyLine


class _Voucher(forms.Form):
    voucher_no = forms.CharField(
        label=_("Voucher number"),
        max_length=SubsidyLine._meta.get_field("voucher_no").max_length,
        required=False,
    )
    paid_on = forms.DateField(
        label=_("Payment date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": _("Enter the date as YYYY-MM-DD.")},
    )

    def payment(self) -> dict:
        return {
            "voucher_no": self.cleaned_data["voucher_no"],
            "paid_on": self.cleaned_data["paid_on"],
        }


class BatchPaymentForm(_Voucher):
    """The bank has paid the batch: every line of it still issued is paid."""


class LinePaidForm(_Voucher):
    """One line issued to the bank was paid."""


class LineFailedForm(forms.Form):
    """One line issued to the bank failed; it goes into the next batch."""

    note = forms.CharField(
        label=_("Reason given by the bank"),
        max_length=SubsidyLine._meta.get_field("payment_note").max_length,
        required=False,
        help_text=_("For example: account closed, name does not match the account."),
    )
