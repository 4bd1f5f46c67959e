"""What the payout page reads: the run's payment batches, for a township
officer only those that paid lines of their township, counted over those
lines. None of these functions writes.
"""

from django.db.models import Count, Sum

from subsidies.models import PaymentBatch, SubsidyRun
from subsidies.runs.selectors import is_township_bound

from .services import payment_batch_lines


def batches_for_user(user, run: SubsidyRun) -> list[PaymentBatch]:
    """The run's batches; for a township officer only those that paid lines
    of their township, each counted and summed over those lines alone (a
    batch's stored figures are the whole county's)."""
    batches = list(run.batches.select_related("created_by"))
    if not is_township_bound(user):
        return batches
    own = []
    for batch in batches:
        figures = (
            payment_batch_lines(batch)
            .for_user(user)
            .aggregate(count=Count("pk"), total=Sum("amount_due"))
        )
        if figures["count"]:
            batch.line_count, batch.total = figures["count"], figures["total"]
            own.append(batch)
    return own
