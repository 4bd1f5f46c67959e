from django.urls import path

from . import views as history_views

app_name = "history"

urlpatterns = [
    path("", history_views.history_list, name="list"),
    path("export.<str:fmt>", history_views.history_export, name="export"),
]
