"""The borrower list's search box, filters and sort order (django-filter).

The filter set narrows a queryset it is given and never widens it: the
caller passes a queryset already confined to what the user may see
(``Borrower.objects.for_user``), and the choices offered here are confined
the same way so that a township officer is not even shown other townships'
villages.
"""

import re

import django_filters
from django import forms
from django.db.models import Case, IntegerField, Q, Value, When
from django.utils.translation import gettext_lazy as _

from accounts.roles import TOWNSHIP_BOUND_ROLES, role_of
from accounts.scoping import divisions_for
from beneficiaries.models import Borrower, Household, Industry
from common.identifiers import MOBILE_PATTERN, normalize_resident_id
from divisions.models import Division

# The shortest tail of an ID number that the search box matches on.
ID_TAIL_MIN_DIGITS = 4

DEFAULT_ORDER = (
    "township__code",
    "household__village_group__code",
    "name",
    "pk",
)


def _category_rank():
    """Categories in the order the programme lists them, not alphabetically."""
    return Case(
        *(
            When(category=value, then=Value(rank))
            for rank, value in enumerate(Borrower.Category.values)
        ),
        default=Value(len(Borrower.Category.values)),
        output_field=IntegerField(),
    )


def industry_choices():
    """Sectors and their kinds for one select: choosing a sector means every
    kind in it."""
    choices = []
    kinds_by_sector: dict[int, list] = {}
    industries = list(Industry.objects.select_related("parent").order_by("sort_order", "pk"))
    for industry in industries:
        if industry.parent_id is not None:
            kinds_by_sector.setdefault(industry.parent_id, []).append(industry)
    for sector in (industry for industry in industries if industry.parent_id is None):
        options = [(str(sector.pk), _("All of %(sector)s") % {"sector": sector.name})]
        options += [(str(kind.pk), kind.name) for kind in kinds_by_sector.get(sector.pk, [])]
        choices.append((sector.name, options))
    return choices


class BorrowerFilter(django_filters.FilterSet):
    """GET parameters: q, township, village, category, industry,
    party_member, poverty_status, sort (``page`` is the paginator's)."""

    q = django_filters.CharFilter(
        label=_("Search"),
        method="search",
        widget=forms.TextInput(
            attrs={"placeholder": _("Name, ID number or its last digits, mobile number")}
        ),
    )
    township = django_filters.ModelChoiceFilter(
        label=_("Township"), queryset=Division.objects.none(), empty_label=_("All townships")
    )
    village = django_filters.ModelChoiceFilter(
        label=_("Village"),
        field_name="household__village_group__parent",
        queryset=Division.objects.none(),
        empty_label=_("All villages"),
    )
    category = django_filters.ChoiceFilter(
        label=_("Category"), choices=Borrower.Category.choices, empty_label=_("All categories")
    )
    industry = django_filters.ChoiceFilter(
        label=_("Industry"), method="filter_industry", empty_label=_("All industries")
    )
    party_member = django_filters.ChoiceFilter(
        label=_("Party member"),
        method="filter_party_member",
        choices=[("yes", _("Yes")), ("no", _("No"))],
        empty_label=_("Either"),
    )
    poverty_status = django_filters.ChoiceFilter(
        label=_("Poverty status"),
        field_name="household__poverty_status",
        choices=Household.PovertyStatus.choices,
        empty_label=_("All households"),
    )
    sort = django_filters.ChoiceFilter(
        label=_("Sort by"),
        method="sort_by",
        choices=[
            ("township", _("Township, village, group")),
            ("name", _("Full name")),
            ("category", _("Category")),
            ("newest", _("Newest first")),
        ],
        empty_label=None,
    )

    def __init__(self, data=None, queryset=None, *, user, **kwargs):
        super().__init__(data, queryset, **kwargs)
        self.user = user
        bound_to_township = role_of(user) in TOWNSHIP_BOUND_ROLES
        if bound_to_township:
            # The list is already confined to the officer's township.
            del self.filters["township"]
        else:
            self.filters["township"].queryset = divisions_for(user).townships()
        villages = divisions_for(user).filter(level=Division.Level.VILLAGE)
        township_id = (data or {}).get("township")
        if not bound_to_township and township_id and str(township_id).isdigit():
            villages = villages.filter(parent_id=township_id)
        self.filters["village"].queryset = villages.order_by("parent__code", "code")
        # A list, not the callable: read the tree once, not once for
        # validation and again for the page.
        self.filters["industry"].extra["choices"] = industry_choices()

    def search(self, queryset, name, value):
        """Name (contains), a whole ID number, its last digits, or a mobile number."""
        value = value.strip()
        if not value:
            return queryset
        condition = Q(name__icontains=value)
        # Officers copy numbers from paper with spaces or dashes in them.
        compact = normalize_resident_id(re.sub(r"[\s-]", "", value))
        if len(compact) == 18:
            condition |= Q(id_number=compact)
        elif len(compact) >= ID_TAIL_MIN_DIGITS and compact.rstrip("X").isdigit():
            condition |= Q(id_number__endswith=compact)
        if MOBILE_PATTERN.match(compact):
            condition |= Q(phone=compact)
        return queryset.filter(condition)

    def filter_industry(self, queryset, name, value):
        return queryset.filter(Q(industry_id=value) | Q(industry__parent_id=value))

    def filter_party_member(self, queryset, name, value):
        return queryset.filter(party_member=(value == "yes"))

    def sort_by(self, queryset, name, value):
        if value == "name":
            return queryset.order_by("name", "pk")
        if value == "category":
            return queryset.order_by(_category_rank(), *DEFAULT_ORDER)
        if value == "newest":
            return queryset.order_by("-created_at", "-pk")
        return queryset.order_by(*DEFAULT_ORDER)
