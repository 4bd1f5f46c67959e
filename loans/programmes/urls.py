from django.urls import path

from . import views

app_name = "programmes"

urlpatterns = [
    path("", views.programme_list, name="list"),
    path("new/", views.programme_create, name="create"),
    path("lpr/", views.lpr_list, name="lpr"),
    path("lpr/<int:pk>/edit/", views.lpr_edit, name="lpr_edit"),
    path("<int:pk>/", views.programme_detail, name="detail"),
    path("<int:pk>/edit/", views.programme_edit, name="edit"),
    path("<int:pk>/copy/", views.programme_copy, name="copy"),
]
