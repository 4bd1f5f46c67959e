from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from .navigation import actions_for
from .roles import role_of


@login_required
def home(request):
    """The role's home page: what the role can do, built or still to come."""
    return render(
        request,
        "accounts/home.html",
        {"actions": actions_for(request.user), "has_role": role_of(request.user) is not None},
    )
