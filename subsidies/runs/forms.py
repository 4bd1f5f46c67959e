"""Forms of the subsidy run pages: starting a run, the filters of the run
list and of a run's lines, and the reason for sending back or cancelling.

They parse what was typed; the services decide everything else (the year
is over, earlier runs are approved, a reason is given) and
``loans.application_forms.add_service_error`` puts what they refuse on the form, next to the field
it concerns. Forms never save.
"""

from django import forms
from django.utils.translation import gettext_lazy as _

from loans.applications.forms import ProgrammeChoiceField
from loans.models import Programme
from subsidies.models import SubsidyRun


class RunStartForm(forms.Form):
    programme = ProgrammeChoiceField(label=_("Programme"), queryset=Programme.objects.none())
    year = forms.IntegerField(
        label=_("Subsidy year"),
        min_value=2000,
        max_value=2100,
        help_text=_("A year can be computed once it is over."),
    )

    def __init__(self, *args, programmes, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["programme"].queryset = programmes
        self.fields["programme"].empty_label = None
        self.fields["year"].widget.attrs.update({"inputmode": "numeric", "class": "year-input"})


class RunFilterForm(forms.Form):
    programme = ProgrammeChoiceField(
        label=_("Programme"),
        queryset=Programme.objects.none(),
        required=False,
        empty_label=_("All programmes"),
    )
    state = forms.ChoiceField(label=_("State"), required=False)

    def __init__(self, *args, programmes, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["programme"].queryset = programmes
        self.fields["state"].choices = [("", _("All states")), *SubsidyRun.State.choices]

    def filters(self) -> dict:
        if not self.is_valid():
            return {}
        return {
            "programme": self.cleaned_data["programme"],
            "state": self.cleaned_data["state"] or None,
        }


class LineFilterForm(forms.Form):
    township = forms.TypedChoiceField(
        label=_("Township"), required=False, coerce=int, empty_value=None
    )
    exceptions = forms.BooleanField(label=_("Only exceptions"), required=False)

    def __init__(self, *args, townships, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["township"].choices = [("", _("All townships")), *townships]

    def filters(self) -> dict:
        if not self.is_valid():
            return {}
        return {
            "township_id": self.cleaned_data["township"],
            "exceptions_only": self.cleaned_data["exceptions"],
        }


class ReasonForm(forms.Form):
    """Why a run is sent back or cancelled. Left optional here: the service
    refuses an empty reason, with its own words."""

    reason = forms.CharField(
        label=_("Reason"), required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )
