from django.urls import path

from . import views

app_name = "divisions"

urlpatterns = [
    path("", views.division_list, name="list"),
    path("<int:pk>/", views.township_detail, name="township"),
    path("<int:pk>/add/", views.division_add, name="add"),
    path("<int:pk>/edit/", views.division_edit, name="edit"),
]
