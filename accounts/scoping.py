"""What a user may see, as querysets: the one place where scoping to a
township (and, for the divisions, to what lies below it) is written."""

from django.db import models

from divisions.models import Division

from .roles import township_q


class ScopedQuerySet(models.QuerySet):
    """For records that carry a ``township``: what a user may see."""

    def for_user(self, user):
        return self.filter(township_q(user, "township_id"))


def divisions_for(user):
    """The divisions a user may see: a township officer's own township and
    what lies below it; the county-wide roles see every division."""
    return Division.objects.filter(township_q(user, "pk", "parent_id", "parent__parent_id"))
