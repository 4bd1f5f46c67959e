"""The form that asks for a stored report (county report, payout list,
notice): what the report is of; ``reports.services`` decides the rest."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.roles import TOWNSHIP_BOUND_ROLES, role_of
from divisions.models import Division
from loans.applications.forms import ProgrammeChoiceField
from loans.models import Programme
from subsidies.models import SubsidyRun

from .models import Report


class ReportRequestForm(forms.Form):
    """What to generate. A page with one button per report sends ``report``
    as "kind:format" (the button pressed) instead of the two fields."""

    kind = forms.ChoiceField(label=_("Report"), choices=Report.Kind.choices)
    format = forms.ChoiceField(label=_("Format"), choices=Report.Format.choices)
    programme = ProgrammeChoiceField(
        label=_("Programme"), queryset=Programme.objects.order_by("-year", "name"), required=False
    )
    as_of = forms.DateField(
        label=_("Figures as of"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("Loans disbursed and postings paid up to and including this day."),
    )
    run = forms.ModelChoiceField(
        label=_("Subsidy run"),
        queryset=SubsidyRun.objects.select_related("programme"),
        required=False,
        widget=forms.HiddenInput,
    )
    township = forms.ModelChoiceField(
        label=_("Township"),
        queryset=Division.objects.filter(level=Division.Level.TOWNSHIP).order_by("code"),
        required=False,
        empty_label=_("Whole county"),
    )

    field_order = ["kind", "programme", "as_of", "township", "format", "run"]

    def __init__(self, data=None, *args, user, **kwargs):
        if data is not None and "report" in data and "kind" not in data:
            data = data.copy()
            data["kind"], _sep, data["format"] = data["report"].partition(":")
        super().__init__(data, *args, **kwargs)
        if role_of(user) in TOWNSHIP_BOUND_ROLES:
            # Their own township, always (the service enforces it too).
            del self.fields["township"]


def county_report_initial() -> dict:
    """The latest active programme that has lent (next year's programme is
    often set up, and active, before its first loan), on today's figures."""
    active = Programme.objects.filter(is_active=True).order_by("-year", "name")
    programme = active.filter(loans__isnull=False).distinct().first() or active.first()
    return {
        "kind": Report.Kind.COUNTY,
        "format": Report.Format.PDF,
        "programme": programme,
        "as_of": timezone.localdate(),
    }
