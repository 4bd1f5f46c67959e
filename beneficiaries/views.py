from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import Count
from django.shortcuts import render

from .models import Division


@login_required
@permission_required("beneficiaries.view_division", raise_exception=True)
def division_list(request):
    """The townships the user may see, with how many villages and groups each has."""
    townships = (
        Division.objects.townships()
        .for_user(request.user)
        .annotate(
            village_count=Count("children", distinct=True),
            group_count=Count("children__children", distinct=True),
        )
        .order_by("code")
    )
    county = Division.objects.filter(code=settings.COUNTY_CODE).first()
    return render(
        request, "beneficiaries/division_list.html", {"townships": townships, "county": county}
    )
