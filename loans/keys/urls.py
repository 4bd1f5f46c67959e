"""/coop-keys/: the county office's page for the co-op's API keys."""

from django.urls import path

from . import views

app_name = "coop_keys"

urlpatterns = [
    path("", views.key_list, name="list"),
    path("issue/", views.key_issue, name="issue"),
    path("<int:pk>/revoke/", views.key_revoke, name="revoke"),
]
