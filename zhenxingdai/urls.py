from django.contrib import admin
from django.urls import include, path

from riskfund.api import CompensationClaimDetail, CompensationClaims
from subsidies.api import SubsidyLines

from .health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("", include("accounts.urls")),
    path("divisions/", include("beneficiaries.divisions.urls")),
    path("registry/borrowers/", include("beneficiaries.registry.urls")),
    path("registry/transfer/", include("beneficiaries.transfer.urls")),
    path("registry/enterprises/", include("beneficiaries.enterprises.urls")),
    path("registry/industries/", include("beneficiaries.industries.urls")),
    path("programmes/", include("loans.programmes.urls")),
    path("applications/", include("loans.applications.urls")),
    path("notices/", include("loans.notices.urls")),
    path("loans/", include("loans.ledger.urls")),
    path("fund/", include("riskfund.urls")),
    path("subsidies/", include("subsidies.urls")),
    path("reports/", include("reports.urls")),
    # Before the API's own routes: its catch-all answers unknown paths.
    path("api/v1/subsidy-lines/", SubsidyLines.as_view(), name="api-subsidy-lines"),
    path(
        "api/v1/compensation-claims/",
        CompensationClaims.as_view(),
        name="api-compensation-claims",
    ),
    path(
        "api/v1/compensation-claims/<path:claim_id>/",
        CompensationClaimDetail.as_view(),
        name="api-compensation-claim",
    ),
    path("api/v1/", include("loans.api.urls")),
    path("coop-keys/", include("loans.keys.urls")),
]
