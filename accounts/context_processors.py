from django.urls import reverse

from .navigation import menu_for
from .roles import county_of, office_of, role_of, township_of


def role_navigation(request):
    """The role, township and menu that the base layout shows on every page;
    beside the product's name, the county the user works in (an office's city
    or province). One installation serves many counties: before logging in,
    none is named."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    menu = menu_for(user)
    return {
        "county": county_of(user) or office_of(user),
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
