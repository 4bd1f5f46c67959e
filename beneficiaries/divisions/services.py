"""Services of the division pages: the county office adds a village under a
township, or a village group under a village, and renames them. Each takes
the acting user as ``actor``, checks the permission, validates fully and
records the actor in the change history.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from common.history import save_traced
from divisions.models import Division


@transaction.atomic
def division_create(*, actor, parent: Division, code: str, name: str) -> Division:
    """Add a village under a township or a village group under a village."""
    if not actor.has_perm("divisions.add_division"):
        raise PermissionDenied
    level = {
        Division.Level.TOWNSHIP: Division.Level.VILLAGE,
        Division.Level.VILLAGE: Division.Level.GROUP,
    }.get(parent.level)
    if level is None:
        raise ValidationError({"parent": _("Villages sit under townships, groups under villages.")})
    return save_traced(Division(code=code, name=name, level=level, parent=parent), actor=actor)


@transaction.atomic
def division_rename(*, actor, division: Division, name: str) -> Division:
    if not actor.has_perm("divisions.change_division"):
        raise PermissionDenied
    division.name = name
    return save_traced(division, actor=actor)
