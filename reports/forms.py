"""The form that asks for a stored report (county report, payout list,
notice; an office's consolidated report): what the report is of;
``reports.services`` decides the rest.

Every choice is the user's own: the programmes run in their counties, their
runs, their county's townships; another county's id is a field error. An
office above the county asks for its consolidated report alone, of one
programme or of all."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.roles import OFFICE_ROLES, TOWNSHIP_BOUND_ROLES, counties_of, role_of
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
        self.fields["programme"].queryset = Programme.objects.for_user(user).order_by(
            "-year", "name"
        )
        kinds = self.fields["kind"]
        role = role_of(user)
        if role in OFFICE_ROLES:
            kinds.choices = [(Report.Kind.CONSOLIDATED, Report.Kind.CONSOLIDATED.label)]
            self.fields["programme"].empty_label = _("All programmes")
            del self.fields["township"], self.fields["run"]
            return
        kinds.choices = [c for c in Report.Kind.choices if c[0] != Report.Kind.CONSOLIDATED]
        self.fields["run"].queryset = SubsidyRun.objects.for_user(user).select_related("programme")
        if role in TOWNSHIP_BOUND_ROLES:
            # Their own township, always (the service enforces it too).
            del self.fields["township"]
        else:
            self.fields["township"].queryset = Division.objects.filter(
                level=Division.Level.TOWNSHIP, parent_id__in=counties_of(user)
            ).order_by("code")


def county_report_initial(user) -> dict:
    """The latest active programme of the user's that has lent (next year's
    programme is often set up, and active, before its first loan), on
    today's figures."""
    active = Programme.objects.for_user(user).filter(is_active=True).order_by("-year", "name")
    programme = active.filter(loans__isnull=False).distinct().first() or active.first()
    return {
        "kind": Report.Kind.COUNTY,
        "format": Report.Format.PDF,
        "programme": programme,
        "as_of": timezone.localdate(),
    }


def consolidated_initial(programme: Programme | None) -> dict:
    """The consolidated report of the programme the league table shows (all
    programmes where it shows all), on today's figures, as PDF."""
    return {
        "kind": Report.Kind.CONSOLIDATED,
        "format": Report.Format.PDF,
        "programme": programme,
        "as_of": timezone.localdate(),
    }
