from django.conf import settings

from beneficiaries.models import Division

from .navigation import actions_for
from .roles import role_of, township_of


def role_navigation(request):
    """The role, township and menu that the base layout shows on every page."""
    user = getattr(request, "user", None)
    county = Division.objects.filter(code=settings.COUNTY_CODE).first()
    if user is None or not user.is_authenticated:
        return {"county": county}
    return {
        "county": county,
        "role": role_of(user),
        "township": township_of(user),
        "navigation": [action for action in actions_for(user) if action.url_name],
    }
