from django.urls import path

from . import statement_views, views

app_name = "reports"

urlpatterns = [
    path("", views.report_list, name="list"),
    path("request/", views.report_request_view, name="request"),
    path("<int:pk>/", views.report_detail, name="detail"),
    path("<int:pk>/progress/", views.report_progress, name="progress"),
    path("<int:pk>/download/", views.report_download, name="download"),
    path("borrowers/<int:pk>/statement.pdf", statement_views.borrower_statement, name="statement"),
]
