from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from divisions.models import Division

from .models import PersonalDataExport, Profile
from .roles import OFFICE_LEVELS, TOWNSHIP_BOUND_ROLES, Role, county_of


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str | None,
    role: Role,
    township: Division | None = None,
    county: Division | None = None,
    office: Division | None = None,
    full_name: str = "",
    email: str = "",
):
    """Create a staff or service account with exactly one role.

    A township officer is bound to exactly one township (and so to its
    county); an office above the county (city, province) is bound to its
    ``office``, a division of that level; every other role works county-wide
    in ``county`` and must not carry a township. ``password=None`` makes an account
    that cannot log in with a password (a co-op service account using a key).
    A password must pass AUTH_PASSWORD_VALIDATORS.
    """
    role = Role(role)
    if role in TOWNSHIP_BOUND_ROLES:
        if township is None:
            raise ValidationError({"township": _("A township officer needs a township.")})
        if township.level != Division.Level.TOWNSHIP:
            raise ValidationError(
                {"township": _("%(name)s is not a township.") % {"name": township}}
            )
        county = township.parent
    elif role in OFFICE_LEVELS:
        level = OFFICE_LEVELS[role]
        if township is not None or county is not None:
            raise ValidationError(
                {"office": _("An office above the county is bound to its city or province alone.")}
            )
        if office is None or office.level != level:
            raise ValidationError(
                {
                    "office": _("A %(role)s account needs a division of the level %(level)s.")
                    % {"role": role.label, "level": Division.Level(level).label}
                }
            )
    elif office is not None:
        raise ValidationError({"office": _("Only an office above the county has an office.")})
    elif township is not None:
        raise ValidationError({"township": _("Only a township officer is bound to a township.")})
    elif county is None:
        raise ValidationError({"county": _("A county-wide account needs its county.")})
    elif county.level != Division.Level.COUNTY:
        raise ValidationError({"county": _("%(name)s is not a county.") % {"name": county}})

    user = get_user_model()(username=username, email=email, first_name=full_name)
    if password is None:
        user.set_unusable_password()
    else:
        try:
            password_validation.validate_password(password, user)
        except ValidationError as error:
            raise ValidationError({"password": error.messages}) from error
        user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    user.groups.set([Group.objects.get(name=role.value)])
    Profile.objects.create(user=user, township=township, county=county, office=office)
    return user


def personal_data_export_log(*, request, what: str, row_count: int, filters: str = ""):
    """Record a download that carried whole identifiers, before it is sent."""
    from common.history import client_ip

    county = county_of(request.user)
    if county is None:
        raise PermissionDenied
    return PersonalDataExport.objects.create(
        user=request.user,
        county=county,
        ip_address=client_ip(request),
        what=what[:100],
        filters=filters[:500],
        row_count=row_count,
    )
