"""Forms of the public notice pages. They never save: the views pass their
cleaned data to the services, whose refusals come back onto the forms."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loans.applications.forms import ProgrammeChoiceField
from loans.applications.selectors import active_programmes
from loans.models import Programme


class NoticeForm(forms.Form):
    """Publish the approved applications of a programme in a notice."""

    programme = ProgrammeChoiceField(
        label=_("Programme"), queryset=Programme.objects.none(), empty_label=None
    )
    starts_on = forms.DateField(
        label=_("First day of the notice"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("The day the notice is posted in the villages."),
    )
    title = forms.CharField(
        label=_("Title"),
        required=False,
        max_length=200,
        help_text=_("Leave empty for the standard title with the programme and the date."),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["programme"].queryset = active_programmes(user)
        self.fields["starts_on"].initial = timezone.localdate


class ObjectionForm(forms.Form):
    """An objection raised against one entry of a notice."""

    raised_by = forms.CharField(
        label=_("Raised by"),
        max_length=100,
        help_text=_("Who raised it, as they gave it (a villager may stay anonymous)."),
    )
    content = forms.CharField(
        label=_("Objection"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )


class ObjectionResolveForm(forms.Form):
    UPHELD = "upheld"
    NOT_UPHELD = "not_upheld"

    outcome = forms.ChoiceField(
        label=_("Outcome"),
        choices=[
            (NOT_UPHELD, _("Not upheld: the application goes ahead")),
            (UPHELD, _("Upheld: the application is rejected")),
        ],
        widget=forms.RadioSelect,
    )
    resolution = forms.CharField(
        label=_("Resolution"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("What was checked and found."),
    )

    @property
    def upheld(self) -> bool:
        return self.cleaned_data["outcome"] == self.UPHELD
