from django.contrib import admin
from django.urls import include, path

from subsidies.api import SubsidyLines

from .health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("", include("accounts.urls")),
    path("divisions/", include("beneficiaries.urls")),
    path("registry/borrowers/", include("beneficiaries.borrower_urls")),
    path("registry/transfer/", include("beneficiaries.transfer_urls")),
    path("registry/enterprises/", include("beneficiaries.enterprise_urls")),
    path("registry/industries/", include("beneficiaries.industry_urls")),
    path("programmes/", include("loans.programme_urls")),
    path("applications/", include("loans.application_urls")),
    path("notices/", include("loans.notice_urls")),
    path("loans/", include("loans.loan_urls")),
    path("subsidies/", include("subsidies.urls")),
    path("reports/", include("reports.urls")),
    # Before the API's own routes: its catch-all answers unknown paths.
    path("api/v1/subsidy-lines/", SubsidyLines.as_view(), name="api-subsidy-lines"),
    path("api/v1/", include("loans.api.urls")),
    path("coop-keys/", include("loans.key_urls")),
]
