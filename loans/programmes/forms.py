"""Forms of the programme pages: a programme with its quota table, the
list's filter, and the LPR table.

The forms check what can be checked on the input alone (a rate typed as a
percentage, a budget above zero, one quota per category) so that a person
sees every such mistake at once; the services check everything again,
with the database, and their errors are put back on the forms with
``add_service_error``.
"""

from decimal import Decimal

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.forms import inlineformset_factory
from django.utils.translation import gettext_lazy as _

from divisions.models import Division
from loans.models import LprRate, Programme, ProgrammeQuota, region_code_of, region_level

from .selectors import percent_text
from .services import PROGRAMME_FIELDS, programme_errors

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
_HUNDRED = Decimal("100")


class PercentField(forms.DecimalField):
    """A rate typed as a percentage (``3.45``) and cleaned to the fraction the
    models store (``Decimal("0.034500")``). Shows a stored fraction as a
    percentage again, so a form round-trips without changing the rate."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_digits", 7)
        kwargs.setdefault("decimal_places", 4)
        kwargs.setdefault(
            "error_messages",
            {
                "invalid": _("Enter the rate as a percentage, e.g. 3.45."),
                "max_decimal_places": _("At most 4 decimals in the percentage."),
                "max_digits": _("Enter the rate as a percentage, e.g. 3.45."),
                "max_whole_digits": _("Enter the rate as a percentage, e.g. 3.45."),
            },
        )
        super().__init__(**kwargs)
        self.widget.attrs.setdefault("step", "0.01")
        self.widget.attrs.setdefault("inputmode", "decimal")

    def prepare_value(self, value):
        # A stored fraction is shown as a percentage; typed text stays as typed.
        if isinstance(value, Decimal):
            return percent_text(value).rstrip("%")
        return value

    def clean(self, value):
        percent = super().clean(value)
        if percent is None:
            return None
        if not 0 < percent < _HUNDRED:
            raise ValidationError(
                _("Enter a rate between 0 and 100 (a percentage)."), code="out_of_range"
            )
        return (percent / _HUNDRED).quantize(Decimal("0.000001"))

    def has_changed(self, initial, data):
        try:
            return self.clean(data) != initial
        except ValidationError:
            return True


class ProgrammeForm(forms.ModelForm):
    """Every parameter of a programme; the quotas come in ``quota_formset``."""

    rate_ceiling = PercentField(
        label=_("Contract rate ceiling (% a year)"),
        help_text=_("As a percentage: 4.35 means 4.35 % a year."),
    )
    rate_cap = PercentField(
        label=_("Fixed cap rate (% a year)"),
        required=False,
        help_text=_("Only for a fixed cap, as a percentage: 3.45 means 3.45 %."),
    )

    class Meta:
        model = Programme
        fields = PROGRAMME_FIELDS
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}
        labels = {
            "enterprise_quota": _("Quota per enterprise (yuan)"),
            "budget": _("Budget, principal (yuan)"),
        }
        help_texts = {
            "region_code": _("The 6-digit administrative code, e.g. 530822 for Mojiang."),
            "budget": _("The principal the programme may lend in the year, in yuan."),
            "subsidy_ratio": _("Share of the eligible interest that is subsidised: 1 = all of it."),
            "day_count_basis": _("A day's interest is balance × annual rate ÷ this number."),
            "grace_days": _("Days after the due date that still count as paid on time."),
            "notice_days": _("How long approved applications stay in public notice."),
            "reconciliation_tolerance": _(
                "The co-op's interest may differ from the expected by this much before it is "
                "flagged."
            ),
        }

    # The parts of the form, for the page's sections.
    BASICS = ("name", "year", "region_code", "region_name", "is_active", "description")
    LENDING = ("enterprise_quota", "min_term_months", "max_term_months", "rate_ceiling", "budget")
    SUBSIDY = (
        "subsidy_ratio",
        "rate_cap_mode",
        "rate_cap",
        "day_count_basis",
        "subsidy_year",
        "grace_days",
        "overdue_treatment",
        "notice_days",
        "reconciliation_tolerance",
    )

    def __init__(self, *args, region=None, **kwargs):
        """``region``: the division of the user's office (``home_region``).
        A new programme starts as one of that region; a city's or province's
        programme has no budget field: its budget is the sum of its counties'."""
        super().__init__(*args, **kwargs)
        if region is not None and not self.instance.pk:
            self.initial.setdefault("region_code", "")
            self.initial["region_code"] = self.initial["region_code"] or region_code_of(region)
            self.initial["region_name"] = self.initial.get("region_name") or region.name
        code = self.instance.region_code or (region_code_of(region) if region else "")
        if code and region_level(code) != Division.Level.COUNTY:
            del self.fields["budget"]

    def section(self, names):
        return [self[name] for name in names if name in self.fields]

    def basics(self):
        return self.section(self.BASICS)

    def lending(self):
        return self.section(self.LENDING)

    def subsidy(self):
        return self.section(self.SUBSIDY)

    def clean(self):
        # Put the service's checks (budget, uniqueness, sane rates) on their
        # fields now, beside the others; a field with an error is then left
        # out of Django's constraint checks, whose messages are generic.
        cleaned = super().clean()
        candidate = Programme(
            pk=self.instance.pk,
            **{name: cleaned[name] for name in PROGRAMME_FIELDS if name in cleaned},
        )
        for name, message in programme_errors(candidate).items():
            if name in self.fields and name not in self.errors:
                self.add_error(name, message)
        return cleaned


class QuotaForm(forms.ModelForm):
    class Meta:
        model = ProgrammeQuota
        fields = ["category", "amount"]
        labels = {"amount": _("Quota per household (yuan)")}

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount is not None and amount <= 0:
            raise ValidationError(_("The quota must be more than 0 yuan."))
        return amount


class _QuotaFormSet(forms.BaseInlineFormSet):
    def clean(self):
        # Not super().clean(): Django's duplicate message names the database
        # column; this one names the category.
        seen = {}
        filled = 0
        for form in self.forms:
            if not hasattr(form, "cleaned_data") or form.cleaned_data.get("DELETE"):
                continue
            category = form.cleaned_data.get("category")
            if not category:
                continue
            filled += 1
            if category in seen:
                label = dict(form.fields["category"].choices)[category]
                form.add_error(
                    "category", _("%(category)s already has a quota above.") % {"category": label}
                )
            seen[category] = form
        if filled == 0 and not any(form.errors for form in self.forms):
            raise ValidationError(_("Give at least one borrower category a quota."))

    def quota_data(self) -> list[dict]:
        """The quotas filled in and not marked for removal, for ``programme_save``."""
        return [
            {"category": form.cleaned_data["category"], "amount": form.cleaned_data["amount"]}
            for form in self.forms
            if form.cleaned_data.get("category") and not form.cleaned_data.get("DELETE")
        ]


def quota_formset(data=None, *, programme: Programme | None):
    """The quota table: the programme's quotas and blank rows to add more."""
    extra = 4 if programme is None or programme.pk is None else 2
    formset_class = inlineformset_factory(
        Programme,
        ProgrammeQuota,
        form=QuotaForm,
        formset=_QuotaFormSet,
        extra=extra,
        can_delete=True,
    )
    return formset_class(data, instance=programme or Programme(), prefix="quotas")


class CountyBudgetForm(forms.Form):
    """The budget of each county under a city's or province's programme:
    one amount per county, blank for a county that does not lend in it."""

    def __init__(self, data=None, *, counties, programme: Programme | None):
        super().__init__(data, prefix="counties")
        current = {}
        if programme is not None and programme.pk:
            current = {part.county_id: part.amount for part in programme.county_budgets.all()}
        self.counties = {}
        for county in counties:
            name = f"county_{county.code}"
            self.counties[name] = county
            self.fields[name] = forms.DecimalField(
                label=county.name,
                required=False,
                max_digits=16,
                decimal_places=2,
                initial=current.get(county.pk),
                widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
            )

    def clean(self):
        cleaned = super().clean()
        for name, county in self.counties.items():
            amount = cleaned.get(name)
            if amount is not None and amount <= 0:
                self.add_error(
                    name,
                    _("The budget of %(county)s must be more than 0 yuan.") % {"county": county},
                )
        return cleaned

    def budget_data(self) -> list[dict]:
        """The counties given a budget, for ``programme_save``."""
        return [
            {"county": county, "amount": self.cleaned_data[name]}
            for name, county in self.counties.items()
            if self.cleaned_data.get(name) is not None
        ]


def add_service_error(error: ValidationError, form, formset=None, county_form=None) -> None:
    """Put a service's error next to its field; quota errors above the quota
    table, county budget errors above the county table, anything else at the
    top of the form."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for key, errors in error.error_dict.items():
        if key == "county_budgets" and county_form is not None:
            county_form.add_error(None, errors)
        elif key == "quotas" and formset is not None:
            # Formsets have no add_error; their non-form errors are a plain list.
            formset.non_form_errors().extend(message for e in errors for message in e.messages)
        elif key in form.fields and key != NON_FIELD_ERRORS:
            form.add_error(key, errors)
        else:
            form.add_error(None, errors)


class ProgrammeFilterForm(forms.Form):
    """The list's filter: a year and whether the programme is active."""

    ACTIVE_CHOICES = [
        ("", _("All")),
        ("yes", _("Active programmes")),
        ("no", _("Inactive programmes")),
    ]

    year = forms.TypedChoiceField(label=_("Year"), required=False, coerce=int, empty_value=None)
    active = forms.ChoiceField(label=_("Status"), required=False, choices=ACTIVE_CHOICES)

    def __init__(self, *args, years: list[int], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["year"].choices = [("", _("All years"))] + [(y, str(y)) for y in years]

    def filters(self) -> dict:
        """``year`` and ``active`` for ``programme_overview``; an unknown
        value in the address is ignored rather than an error page."""
        if not self.is_valid():
            return {}
        active = {"yes": True, "no": False}.get(self.cleaned_data["active"])
        return {"year": self.cleaned_data["year"], "active": active}


class LprRateForm(forms.ModelForm):
    one_year_rate = PercentField(
        label=_("One-year LPR (%)"),
        help_text=_("As a percentage: 3.10 means 3.10 % (stored as 0.031000)."),
    )

    class Meta:
        model = LprRate
        fields = ["effective_on", "one_year_rate"]
        widgets = {"effective_on": DATE_WIDGET}
        help_texts = {
            "effective_on": _("The day the National Interbank Funding Center's rate applies from.")
        }

    def validate_unique(self):
        # ``lpr_rate_save`` refuses a second rate for a date, naming the date;
        # Django's message would name the model.
        pass
