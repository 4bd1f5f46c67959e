from django.urls import path

from . import views

app_name = "industries"

urlpatterns = [
    path("", views.industry_list, name="list"),
    path("sectors/new/", views.sector_add, name="add_sector"),
    path("kinds/new/", views.kind_add, name="add_kind"),
    path("<int:pk>/edit/", views.industry_edit, name="edit"),
]
