from django.urls import path

from .payout import views as payout_views
from .runs import views as run_views

app_name = "subsidies"

urlpatterns = [
    path("", run_views.run_list, name="runs"),
    path("start/", run_views.run_start, name="start"),
    path("<int:pk>/", run_views.run_detail, name="run"),
    path("<int:pk>/progress/", run_views.run_progress, name="progress"),
    path("<int:pk>/compute/", run_views.run_compute, name="compute"),
    path("<int:pk>/submit/", run_views.run_submit, name="submit"),
    path("<int:pk>/approve/", run_views.run_approve, name="approve"),
    path("<int:pk>/send-back/", run_views.run_send_back, name="send_back"),
    path("<int:pk>/cancel/", run_views.run_cancel, name="cancel"),
    path("lines/<int:pk>/", run_views.line_detail, name="line"),
    path("<int:pk>/payout/", payout_views.payout, name="payout"),
    path("<int:pk>/payout/batches/", payout_views.batch_issue, name="issue_batch"),
    path("batches/<int:pk>/file.<str:fmt>", payout_views.batch_file, name="batch_file"),
    path("batches/<int:pk>/payment/", payout_views.batch_record, name="record_batch"),
    path("lines/<int:pk>/payment/", payout_views.line_record, name="record_line"),
]
