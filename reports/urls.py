from django.urls import path

from . import league_views, statement_views, views

app_name = "reports"

urlpatterns = [
    path("", views.report_list, name="list"),
    path("request/", views.report_request_view, name="request"),
    path("<int:pk>/", views.report_detail, name="detail"),
    path("<int:pk>/progress/", views.report_progress, name="progress"),
    path("<int:pk>/download/", views.report_download, name="download"),
    path("counties/", league_views.league_table, name="league"),
    path("counties/reports/request/", league_views.office_report_request, name="office-request"),
    path("counties/reports/<int:pk>/", league_views.office_report_detail, name="office-report"),
    path(
        "counties/reports/<int:pk>/progress/",
        league_views.office_report_progress,
        name="office-progress",
    ),
    path(
        "counties/reports/<int:pk>/download/",
        league_views.office_report_download,
        name="office-download",
    ),
    path("counties/<str:code>/", league_views.county_dashboard, name="county-dashboard"),
    path("borrowers/<int:pk>/statement.pdf", statement_views.borrower_statement, name="statement"),
]
