"""Forms of the borrower pages.

They validate with the models' own validators (the same code the services
and the import run), so that every bad field is reported next to the field
before anything is written; the services validate again when saving, and
``add_service_error`` puts whatever they still refuse back on the forms.
Forms never save: the views pass their cleaned data to the services.
"""

import re

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import MaxLengthValidator
from django.forms import inlineformset_factory
from django.utils.translation import gettext_lazy as _

from accounts.roles import may_act_in_township
from beneficiaries.industries.selectors import industry_kinds
from beneficiaries.models import Borrower, DrivenHousehold, Enterprise, Household, Position
from common.identifiers import (
    normalize_resident_id,
    validate_mobile,
    validate_resident_id,
)
from divisions.models import Division

from .selectors import household_by_head, village_groups_for

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _resident_id(value: str) -> str:
    """Normalise, then validate with the one validator the whole product
    uses, so the error is the specific one (length, check character, date)."""
    number = normalize_resident_id(re.sub(r"[\s-]", "", value or ""))
    validate_resident_id(number)
    return number


def _drop_length_check(field: forms.Field) -> None:
    """Leave the length to the specific validator: Django's generic "at most
    18 characters" would come first and say less."""
    field.validators = [v for v in field.validators if not isinstance(v, MaxLengthValidator)]


def village_group_choices(user) -> list:
    """The groups the user may act in, grouped by township and village.

    Each option names its village too: a closed select shows the option
    alone, and every village has a 第一村民小组."""
    grouped: dict[str, list] = {}
    for group in village_groups_for(user):
        village = group.parent
        label = "%s · %s" % (village.parent.name, village.name)
        grouped.setdefault(label, []).append((group.pk, "%s · %s" % (village.name, group.name)))
    return [("", _("Choose a village group")), *grouped.items()]


def industry_kind_choices() -> list:
    """Kinds of industry grouped by sector (a borrower picks a kind)."""
    grouped: dict[str, list] = {}
    for kind in industry_kinds():
        grouped.setdefault(kind.parent.name, []).append((kind.pk, kind.name))
    return [("", _("Choose an industry")), *grouped.items()]


class HouseholdChoiceForm(forms.Form):
    """Whether the borrower joins a registered household or a new one."""

    EXISTING = "existing"
    NEW = "new"

    household_mode = forms.ChoiceField(
        label=_("Household"),
        choices=[
            (NEW, _("Register a new household")),
            (EXISTING, _("The household is already registered")),
        ],
        initial=NEW,
        widget=forms.RadioSelect,
    )
    existing_head_id_number = forms.CharField(
        label=_("Resident ID number of the registered household's head"),
        required=False,
        help_text=_("The borrower joins that household and shares its quota."),
        widget=forms.TextInput(attrs={"maxlength": 18, "autocomplete": "off"}),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.household = None

    @property
    def wants_new_household(self) -> bool:
        return self.cleaned_data.get("household_mode") == self.NEW

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("household_mode") != self.EXISTING:
            return cleaned
        value = cleaned.get("existing_head_id_number", "")
        if not value:
            self.add_error(
                "existing_head_id_number", _("Enter the resident ID number of the household head.")
            )
            return cleaned
        try:
            number = _resident_id(value)
        except ValidationError as error:
            self.add_error("existing_head_id_number", error)
            return cleaned
        self.household = household_by_head(user=self.user, head_id_number=number)
        if self.household is None:
            self.add_error(
                "existing_head_id_number",
                _(
                    "No household with this head's resident ID number is registered where "
                    "you work. Choose “Register a new household” to add it."
                ),
            )
        return cleaned


class HouseholdForm(forms.ModelForm):
    """A new household, or the household of the borrower being edited."""

    class Meta:
        model = Household
        fields = [
            "head_name",
            "head_id_number",
            "village_group",
            "member_count",
            "poverty_status",
            "account_holder",
            "account_number",
            "bank_name",
        ]
        error_messages = {
            "head_id_number": {
                "unique": _(
                    "A household with this head's resident ID number is already registered; "
                    "choose “The household is already registered” instead."
                )
            }
        }
        widgets = {
            "head_id_number": forms.TextInput(attrs={"maxlength": 18, "autocomplete": "off"}),
            "account_number": forms.TextInput(attrs={"autocomplete": "off"}),
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        _drop_length_check(self.fields["head_id_number"])
        group_field = self.fields["village_group"]
        # Validate against every group so that one outside the user's
        # township is named as such, but offer only the user's own.
        group_field.queryset = Division.objects.filter(level=Division.Level.GROUP).select_related(
            "parent"
        )
        group_field.choices = village_group_choices(user)

    def clean_head_id_number(self):
        return _resident_id(self.cleaned_data["head_id_number"])

    def clean_village_group(self):
        group = self.cleaned_data["village_group"]
        if group is not None and not may_act_in_township(self.user, group.parent.parent_id):
            raise ValidationError(
                _(
                    "This village group is in another township; you may register households "
                    "of your own township only."
                ),
                code="other_township",
            )
        return group


class BorrowerForm(forms.ModelForm):
    """The borrower's own fields (the household and positions are separate)."""

    class Meta:
        model = Borrower
        fields = [
            "name",
            "id_number",
            "phone",
            "party_member",
            "base_category",
            "industry",
            "entity_description",
            "scale",
            "scale_unit",
            "enterprise",
        ]
        labels = {"name": _("Full name")}
        error_messages = {
            "id_number": {
                "unique": _("A borrower with this resident ID number is already registered.")
            }
        }
        widgets = {
            "id_number": forms.TextInput(attrs={"maxlength": 18, "autocomplete": "off"}),
            "phone": forms.TextInput(
                attrs={"maxlength": 11, "inputmode": "numeric", "autocomplete": "off"}
            ),
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        _drop_length_check(self.fields["id_number"])
        _drop_length_check(self.fields["phone"])
        self.fields["industry"].queryset = industry_kinds()
        self.fields["industry"].choices = industry_kind_choices()
        self.fields["enterprise"].queryset = Enterprise.objects.for_user(user)
        self.fields["enterprise"].empty_label = _("None")

    def clean_id_number(self):
        return _resident_id(self.cleaned_data["id_number"])

    def clean_phone(self):
        phone = "".join(self.cleaned_data["phone"].split())
        validate_mobile(phone)
        return phone


POSITION_FIELDS = ("title", "started_on", "ended_on")


class PositionForm(forms.ModelForm):
    class Meta:
        model = Position
        fields = list(POSITION_FIELDS)
        widgets = {"started_on": DATE_WIDGET, "ended_on": DATE_WIDGET}


class _PositionFormSet(forms.BaseInlineFormSet):
    def position_data(self, *, new_only: bool = False) -> list[dict]:
        """The positions filled in and not marked for removal, as dicts that
        the services take (with ``new_only``, the blank rows filled in)."""
        forms_ = self.extra_forms if new_only else self.forms
        return [
            {name: form.cleaned_data.get(name) for name in POSITION_FIELDS}
            for form in forms_
            if form.has_changed() and not form.cleaned_data.get("DELETE")
        ]


PositionCreateFormSet = inlineformset_factory(
    Borrower, Position, form=PositionForm, formset=_PositionFormSet, extra=2, can_delete=False
)
PositionEditFormSet = inlineformset_factory(
    Borrower, Position, form=PositionForm, formset=_PositionFormSet, extra=2, can_delete=True
)


class DrivenHouseholdForm(forms.Form):
    """Link a registered household of the borrower's township as driven."""

    head_id_number = forms.CharField(
        label=_("Head's resident ID number"),
        widget=forms.TextInput(attrs={"maxlength": 18, "autocomplete": "off"}),
    )
    benefit = forms.ChoiceField(
        label=DrivenHousehold._meta.get_field("benefit").verbose_name,
        choices=DrivenHousehold.Benefit.choices,
    )
    yearly_amount = forms.DecimalField(
        label=DrivenHousehold._meta.get_field("yearly_amount").verbose_name,
        min_value=0,
        max_digits=12,
        decimal_places=2,
    )
    since = forms.DateField(
        label=DrivenHousehold._meta.get_field("since").verbose_name,
        required=False,
        widget=DATE_WIDGET,
    )

    def __init__(self, *args, user, borrower: Borrower, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.borrower = borrower
        self.household = None

    def clean_head_id_number(self):
        number = _resident_id(self.cleaned_data["head_id_number"])
        household = household_by_head(
            user=self.user, head_id_number=number, township_id=self.borrower.township_id
        )
        if household is None:
            raise ValidationError(
                _(
                    "No household with this head's resident ID number is registered in "
                    "%(township)s. Register the household first."
                ),
                params={"township": self.borrower.township.name},
            )
        if household.pk == self.borrower.household_id:
            raise ValidationError(_("A borrower does not drive their own household."))
        self.household = household
        return number


def add_service_error(error: ValidationError, forms_: list, aliases: dict | None = None) -> None:
    """Put a service's error next to the field it names, on whichever of
    ``forms_`` has that field (``aliases`` renames a service's key to a form
    field); anything else goes to the top of the first form.

    A plain ``form.add_error(None, error)`` would do for one form, but a
    page's fields are spread over several and Django refuses a key that the
    form lacks.
    """
    aliases = aliases or {}
    first = forms_[0]
    if not hasattr(error, "error_dict"):
        first.add_error(None, error)
        return
    for key, errors in error.error_dict.items():
        name = aliases.get(key, key)
        target = next((form for form in forms_ if name in form.fields), None)
        if target is None or key == NON_FIELD_ERRORS:
            first.add_error(None, errors)
        else:
            target.add_error(name, errors)
