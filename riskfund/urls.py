from django.urls import path

from . import views

app_name = "riskfund"

urlpatterns = [
    path("", views.fund_list, name="list"),
    path("new/", views.fund_create, name="create"),
    path("<int:pk>/", views.fund_detail, name="detail"),
    path("<int:pk>/edit/", views.fund_edit, name="edit"),
    path("<int:pk>/movements/new/", views.movement_create, name="movement_create"),
    path("<int:pk>/statement.pdf", views.fund_statement_pdf, name="statement_pdf"),
    path("<int:pk>/statement.xlsx", views.fund_statement_xlsx, name="statement_xlsx"),
    path("claims/", views.claim_list, name="claims"),
    path("claims/new/", views.claim_create, name="claim_create"),
    path("claims/<int:pk>/", views.claim_detail, name="claim"),
    path("claims/<int:pk>/check/", views.claim_check_view, name="claim_check"),
    path("claims/<int:pk>/approve/", views.claim_approve_view, name="claim_approve"),
]
