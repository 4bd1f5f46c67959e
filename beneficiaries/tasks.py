from celery import shared_task
from django.utils import timezone

from beneficiaries.registry.services import borrowers_refresh_categories
from common.history import history_context


@shared_task(name="beneficiaries.refresh_categories")
def refresh_categories() -> int:
    """Daily: positions start and end on dates, so stored categories drift."""
    with history_context(reason="scheduled task: beneficiaries.refresh_categories"):
        return borrowers_refresh_categories(today=timezone.localdate())
