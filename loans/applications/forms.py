"""Forms of the application pages.

They parse and check the shape of what was typed; the services decide
everything else (quota, township, state machine) and ``add_service_error``
puts what they refuse back on the form, next to the field it concerns.
Forms never save.
"""

from decimal import Decimal

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils.translation import gettext_lazy as _

from accounts.roles import counties_of, township_of
from beneficiaries.industries.selectors import industry_kinds
from beneficiaries.models import Borrower
from divisions.models import Division
from loans.models import Application, Programme

from . import selectors


def add_service_error(form: forms.Form, error: ValidationError) -> None:
    """Put a service's ValidationError on the form: each message on its field
    when the form has one, the others at the top of the form."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, messages in error.message_dict.items():
        form.add_error(field if field in form.fields else NON_FIELD_ERRORS, messages)


class ProgrammeChoiceField(forms.ModelChoiceField):
    """Programmes named with their year and region: 振兴贷 runs every year."""

    def label_from_instance(self, obj):
        return "%s %s · %s" % (obj.name, obj.year, obj.region_name)


class BorrowerChoiceField(forms.ModelChoiceField):
    """Borrowers grouped by township and village, each named with their
    category and the end of their ID number (two 王建国 in one village are
    not rare)."""

    def label_from_instance(self, obj):
        return _("%(name)s (%(category)s, ID ending %(last4)s)") % {
            "name": obj.name,
            "category": obj.get_category_display(),
            "last4": obj.id_number[-4:],
        }

    def group_by_village(self) -> None:
        groups: dict[str, list] = {}
        for borrower in self.queryset:
            village = borrower.household.village_group.parent
            label = "%s · %s" % (borrower.township.name, village.name)
            groups.setdefault(label, []).append((borrower.pk, self.label_from_instance(borrower)))
        self.widget.choices = [("", _("Choose the borrower")), *groups.items()]


def industry_kind_choices() -> list:
    """Kinds of industry grouped by sector (an application names a kind)."""
    grouped: dict[str, list] = {}
    for kind in industry_kinds():
        grouped.setdefault(kind.parent.name, []).append((kind.pk, kind.name))
    return [("", _("Choose an industry")), *grouped.items()]


# --- The list ---------------------------------------------------------------


class ApplicationFilterForm(forms.Form):
    """The filters of the application list (GET). A township officer gets no
    township filter: they see one township."""

    state = forms.ChoiceField(
        label=_("State"), required=False, choices=[("", _("All")), *Application.State.choices]
    )
    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=60,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": _("Borrower or enterprise name")}
        ),
    )
    programme = ProgrammeChoiceField(
        label=_("Programme"),
        required=False,
        queryset=Programme.objects.none(),
        empty_label=_("All programmes"),
    )
    township = forms.ModelChoiceField(
        label=_("Township"),
        required=False,
        queryset=Division.objects.none(),
        empty_label=_("All townships"),
    )
    village = forms.ModelChoiceField(
        label=_("Village"), required=False, queryset=Division.objects.none()
    )
    category = forms.ChoiceField(
        label=_("Category"),
        required=False,
        choices=[("", _("All categories")), *Borrower.Category.choices],
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        # Only the user's counties' programmes and townships are choices: an
        # id of another county's is not a valid choice.
        self.fields["programme"].queryset = Programme.objects.for_user(user).order_by(
            "-year", "name"
        )
        self.fields["township"].queryset = (
            Division.objects.townships().filter(parent__in=counties_of(user)).order_by("code")
        )
        villages = selectors.villages_for(user)
        village_field = self.fields["village"]
        village_field.queryset = villages
        if township_of(user) is not None:
            del self.fields["township"]
            village_field.label_from_instance = lambda village: village.name
        else:
            village_field.label_from_instance = lambda village: (
                "%s · %s"
                % (
                    village.parent.name,
                    village.name,
                )
            )
        village_field.empty_label = _("All villages")

    def filters(self) -> dict:
        """The filters to pass to ``application_list``. A value that is not a
        choice (a village of another township, say) is left out."""
        if not self.is_bound:
            return {}
        self.is_valid()
        data = self.cleaned_data
        return {
            "state": data.get("state", ""),
            "programme": data.get("programme"),
            "township": data.get("township"),
            "village": data.get("village"),
            "category": data.get("category", ""),
            "search": data.get("q", "").strip(),
        }


# --- Submitting -------------------------------------------------------------


class ApplicantChoiceForm(forms.Form):
    """The first step of a new application (GET): programme and borrower."""

    programme = ProgrammeChoiceField(
        label=_("Programme"), queryset=Programme.objects.none(), empty_label=None
    )
    q = forms.CharField(
        label=_("Find a borrower"),
        required=False,
        max_length=60,
        help_text=_("Name, or part of the resident ID number."),
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    borrower = BorrowerChoiceField(label=_("Borrower"), queryset=Borrower.objects.none())

    def __init__(self, *args, user, search: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["programme"].queryset = selectors.active_programmes(user)
        field = self.fields["borrower"]
        field.queryset = selectors.borrowers_to_apply_for(user=user, search=search)
        field.group_by_village()


class ApplicationForm(forms.Form):
    """The application itself (POST), for the programme and borrower chosen
    in the first step (carried as hidden fields)."""

    programme = forms.ModelChoiceField(queryset=Programme.objects.none(), widget=forms.HiddenInput)
    borrower = forms.ModelChoiceField(queryset=Borrower.objects.none(), widget=forms.HiddenInput)
    amount = forms.DecimalField(
        label=_("Amount (yuan)"),
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
    )
    term_months = forms.IntegerField(label=_("Term (months)"), min_value=1, max_value=600)
    industry = forms.ModelChoiceField(label=_("Industry"), queryset=industry_kinds())
    purpose = forms.CharField(
        label=_("Purpose"),
        max_length=200,
        help_text=_("For example: buy 50 piglets and extend the pig house."),
    )
    comment = forms.CharField(
        label=_("Note"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Recorded with the submission in the application's timeline."),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["programme"].queryset = selectors.active_programmes(user)
        self.fields["borrower"].queryset = Borrower.objects.for_user(user)
        # Grouped by sector; set per form, as the tree is editable.
        self.fields["industry"].choices = industry_kind_choices()


# --- Steps ------------------------------------------------------------------


class StepForm(forms.Form):
    """One step of an application (POST to applications:transition)."""

    to_state = forms.ChoiceField(
        choices=[
            (state.value, state.label)
            for state in (*selectors.FORWARD_STEPS, *selectors.STOP_STEPS)
        ]
    )
    comment = forms.CharField(
        label=_("Comment"), required=False, max_length=1000, widget=forms.Textarea
    )

    @property
    def is_stop(self) -> bool:
        return self.data.get("to_state") in selectors.STOP_STEPS
