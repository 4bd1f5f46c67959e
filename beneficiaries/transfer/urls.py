from django.urls import path

from . import views as transfer_views

app_name = "transfer"

urlpatterns = [
    path("import/", transfer_views.import_start, name="import"),
    path("import/confirm/", transfer_views.import_confirm, name="confirm"),
    path("import/cancel/", transfer_views.import_cancel, name="cancel"),
    path("import/annotated/", transfer_views.import_annotated, name="annotated"),
    path("import/template/", transfer_views.import_template, name="template"),
    path("export/", transfer_views.export, name="export"),
]
