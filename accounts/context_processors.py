from django.conf import settings
from django.urls import reverse

from divisions.models import Division

from .navigation import menu_for
from .roles import role_of, township_of


def role_navigation(request):
    """The role, township and menu that the base layout shows on every page."""
    user = getattr(request, "user", None)
    county = Division.objects.filter(code=settings.COUNTY_CODE).first()
    if user is None or not user.is_authenticated:
        return {"county": county}
    menu = menu_for(user)
    return {
        "county": county,
        "role": role_of(user),
        "township": township_of(user),
        "navigation": menu,
        "current_group": _current_group(request, menu),
    }


def _current_group(request, menu) -> str | None:
    """The menu group of the page shown: the group of an action whose URL
    the page's path starts with (a list or any page under it)."""
    path = request.path
    best, length = None, 0
    for group in menu:
        for action in group.actions:
            prefix = reverse(action.url_name)
            if prefix != "/" and path.startswith(prefix) and len(prefix) > length:
                best, length = group.key, len(prefix)
    return best
