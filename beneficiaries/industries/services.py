"""Services that edit the industry tree: sectors (养殖业, 种植业, ...) and
the kinds under them (生猪, 茶叶, ...).

The tree has exactly two levels: a kind sits under a sector, never under
another kind, and a sector that holds kinds cannot go under anything. A
kind that records already use stays in its sector: moving it would
silently move those borrowers, enterprises and applications to another
sector in every report.

Each service takes ``actor=``, checks the permission, validates fully and
raises ``ValidationError`` keyed by field; nothing is saved on error.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from beneficiaries.models import Industry


def industry_usage(industry: Industry) -> dict[str, int]:
    """How many records of each kind use the industry (the models' plural
    names, e.g. {"borrowers": 12}); kinds under a sector are not counted.

    Every model that protects its industry counts, the applications of the
    ``loans`` app included, without this app importing that one.
    """
    usage = {}
    # Include hidden relations: the models point here with related_name="+".
    for relation in Industry._meta.get_fields(include_hidden=True):
        if not isinstance(relation, models.ForeignObjectRel):
            continue
        # Historical copies point at industries too, but keep no rows alive.
        if relation.related_model is Industry or relation.on_delete is not models.PROTECT:
            continue
        count = relation.related_model._default_manager.filter(
            **{relation.field.name: industry}
        ).count()
        if count:
            usage[str(relation.related_model._meta.verbose_name_plural)] = count
    return usage


def _tree_errors(industry: Industry, parent: Industry | None, was_parent_id: int | None) -> dict:
    errors = {}
    if parent is None:
        if industry.pk and was_parent_id is not None and industry_usage(industry):
            errors["parent"] = _in_use_message(industry)
        return errors
    if parent.parent_id is not None or parent.pk == industry.pk:
        errors["parent"] = _(
            "Choose a sector: industries have two levels, a sector and its kinds, and "
            "%(parent)s is a kind."
        ) % {"parent": parent.name}
    elif industry.pk and was_parent_id is None and industry.kinds.exists():
        errors["parent"] = _(
            "%(name)s is a sector with kinds of its own; a sector cannot go under another."
        ) % {"name": industry.name}
    elif industry.pk and was_parent_id != parent.pk and industry_usage(industry):
        errors["parent"] = _in_use_message(industry)
    return errors


def _in_use_message(industry: Industry) -> str:
    usage = pgettext("list separator", ", ").join(
        "%(what)s %(count)d" % {"what": what, "count": count}
        for what, count in industry_usage(industry).items()
    )
    return _(
        "%(name)s is in use (%(usage)s) and stays in its sector, so that those records keep "
        "their sector in the reports. Add a new kind under the other sector instead."
    ) % {"name": industry.name, "usage": usage}


@transaction.atomic
def industry_save(
    *,
    actor,
    industry: Industry | None = None,
    name: str,
    parent: Industry | None = None,
    farming: str = Industry.Farming.OTHER,
    sort_order: int = 0,
) -> Industry:
    """Add a sector (``parent=None``) or a kind under a sector, or change one
    (``industry``): its name, sector, husbandry or planting, and place in
    the order. A sector's ``farming`` is always "other": the split belongs
    to the kinds."""
    if industry is None:
        if not actor.has_perm("beneficiaries.add_industry"):
            raise PermissionDenied
        industry, was_parent_id = Industry(), None
    else:
        if not actor.has_perm("beneficiaries.change_industry"):
            raise PermissionDenied
        industry = Industry.objects.select_for_update().get(pk=industry.pk)
        was_parent_id = industry.parent_id

    name = (name or "").strip()
    errors = _tree_errors(industry, parent, was_parent_id)
    siblings = Industry.objects.filter(parent=parent, name=name).exclude(pk=industry.pk)
    if name and siblings.exists():
        errors["name"] = (
            _("There is already a sector named %(name)s.") % {"name": name}
            if parent is None
            else _("%(sector)s already has a kind named %(name)s.")
            % {"sector": parent.name, "name": name}
        )
    industry.name, industry.parent, industry.sort_order = name, parent, sort_order
    industry.farming = Industry.Farming.OTHER if parent is None else farming
    try:
        industry.full_clean(exclude=list(errors))
    except ValidationError as error:
        errors = error.update_error_dict(errors)
    if errors:
        raise ValidationError(errors)
    industry.save()
    return industry
