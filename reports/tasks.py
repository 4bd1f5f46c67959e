"""The report's generation as a Celery task (``reports.services``)."""

from celery import shared_task

from .services import report_generate


# acks_late: a worker killed mid-way gives the message back, and the report
# is generated again from the start (a generation writes its file whole).
@shared_task(name="reports.generate", acks_late=True, reject_on_worker_lost=True)
def generate_report(report_id: int, generation: int) -> None:
    report_generate(report_id=report_id, generation=generation)
