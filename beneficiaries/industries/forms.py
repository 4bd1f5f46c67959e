"""Forms of the industry page: a sector, and a kind under a sector.

A sector's form has no place to choose a parent and a kind's offers only
sectors, so the two-level tree holds in the page as it does in
``industry_save``, which checks it again.
"""

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils.translation import gettext_lazy as _

from beneficiaries.models import Industry

_FIELD = Industry._meta.get_field


class SectorForm(forms.Form):
    name = forms.CharField(label=_("Sector name"), max_length=_FIELD("name").max_length)
    sort_order = forms.IntegerField(
        label=_("Order"),
        min_value=0,
        max_value=32767,
        initial=0,
        help_text=_("Smaller numbers come first."),
    )

    def __init__(self, *args, industry: Industry | None = None, **kwargs):
        if industry is not None:
            kwargs.setdefault("initial", {"name": industry.name, "sort_order": industry.sort_order})
        super().__init__(*args, **kwargs)


class KindForm(SectorForm):
    name = forms.CharField(label=_("Kind name"), max_length=_FIELD("name").max_length)
    parent = forms.ModelChoiceField(
        label=_("Sector"),
        queryset=Industry.objects.filter(parent__isnull=True).order_by("sort_order", "pk"),
        empty_label=None,
        error_messages={
            "invalid_choice": _(
                "Choose a sector: industries have two levels, a sector and its kinds."
            )
        },
    )
    farming = forms.ChoiceField(
        label=_("Husbandry or planting"),
        choices=Industry.Farming.choices,
        help_text=_("Sorts the kind into the husbandry or planting figures of the reports."),
    )
    field_order = ["parent", "name", "farming", "sort_order"]

    def __init__(self, *args, industry: Industry | None = None, **kwargs):
        if industry is not None:
            kwargs.setdefault(
                "initial",
                {
                    "name": industry.name,
                    "parent": industry.parent_id,
                    "farming": industry.farming,
                    "sort_order": industry.sort_order,
                },
            )
        super().__init__(*args, industry=industry, **kwargs)


def add_service_error(error: ValidationError, form) -> None:
    """Put a service's error next to its field, anything else on top."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for key, errors in error.error_dict.items():
        form.add_error(key if key in form.fields and key != NON_FIELD_ERRORS else None, errors)
