"""The change history of domain records (django-simple-history), with the
address each change came from.

Every model whose changes must be kept declares
``history = HistoricalRecords(bases=[TracedChange])``. The request user is
recorded by simple-history's middleware; this module adds the client's IP
address. Imports, API calls and tasks say where a change came from with
``history_change_reason`` (e.g. "import: borrowers.xlsx").
"""

from django.db import models
from django.dispatch import receiver
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords
from simple_history.signals import pre_create_historical_record


class TracedChange(models.Model):
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    class Meta:
        abstract = True


def client_ip(request) -> str | None:
    """The client's address; behind the production proxy, the one it saw."""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if forwarded:
        return forwarded.split(",")[0].strip() or None
    return request.META.get("REMOTE_ADDR") or None


@receiver(pre_create_historical_record)
def record_client_ip(sender, history_instance, **kwargs):
    request = getattr(HistoricalRecords.context, "request", None)
    if request is not None and hasattr(history_instance, "ip_address"):
        history_instance.ip_address = client_ip(request)


def traced_history(**kwargs) -> HistoricalRecords:
    """The history manager every audited model uses."""
    return HistoricalRecords(bases=[TracedChange], **kwargs)
