"""Placeholder: the co-op API's subsidy lines move here."""

from loans.api.views import SubsidyLines  # noqa: F401
