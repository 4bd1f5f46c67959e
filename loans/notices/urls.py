from django.urls import path

from . import views

app_name = "notices"

urlpatterns = [
    path("", views.notice_list, name="list"),
    path("new/", views.notice_create, name="create"),
    path("release/", views.notices_release, name="release"),
    path("<int:pk>/", views.notice_detail, name="detail"),
    path("<int:pk>/pdf/", views.notice_pdf, name="pdf"),
    path("<int:pk>/entries/<int:entry_pk>/objections/", views.objection_add, name="objection_add"),
    path(
        "<int:pk>/objections/<int:objection_pk>/resolve/",
        views.objection_settle,
        name="objection_resolve",
    ),
]
