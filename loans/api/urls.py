"""/api/v1/: the co-op API, its OpenAPI schema and its reference page."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import views

app_name = "api"

urlpatterns = [
    path("applications/", views.ApplicationList.as_view(), name="applications"),
    path("loans/", views.LoanList.as_view(), name="loans"),
    path("loans/<path:contract_no>/", views.LoanDetail.as_view(), name="loan"),
    path("interest-payments/", views.InterestPayments.as_view(), name="interest-payments"),
    path("repayments/", views.Repayments.as_view(), name="repayments"),
    path("reversals/", views.Reversals.as_view(), name="reversals"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    # Any other path (newlines included) answers a 404 in the error envelope.
    re_path(r"^[\s\S]*$", views.EndpointNotFound.as_view(), name="not-found"),
]
