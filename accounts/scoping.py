"""What a user may see, as querysets: the one place where scoping to a
county and a township (and, for the divisions, to what lies below them) is
written. Every large record carries its county (``divisions.models.county_field``);
its manager is a ``ScopedQuerySet``."""

from django.db import models
from django.db.models import Q

from divisions.models import Division

from .roles import NOTHING, counties_of, scope_q, township_q


class ScopedQuerySet(models.QuerySet):
    """For records that carry a ``county`` (and a ``township``, unless the
    model says ``scope_township = ()``): what a user may see."""

    def for_user(self, user):
        township = getattr(self.model, "scope_township", ("township_id",))
        return self.filter(scope_q(user, township=township))


def divisions_for(user):
    """The divisions a user may see: a township officer's own township and
    what lies below it; the county-wide roles their county, everything below
    it and the city and province above it."""
    counties = counties_of(user)
    if not counties:
        return Division.objects.filter(NOTHING)
    in_county = (
        Q(pk__in=counties)
        | Q(parent_id__in=counties)
        | Q(parent__parent_id__in=counties)
        | Q(parent__parent__parent_id__in=counties)
    )
    mine = Division.objects.filter(pk__in=counties)
    above = Q(pk__in=mine.values("parent_id")) | Q(pk__in=mine.values("parent__parent_id"))
    return Division.objects.filter(
        (in_county | above) & township_q(user, "pk", "parent_id", "parent__parent_id")
    )
