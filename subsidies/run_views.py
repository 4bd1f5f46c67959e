"""Placeholder while the pages are written; every view answers 404."""

from django.http import Http404


def _missing(request, *args, **kwargs):
    raise Http404


run_list = _missing
run_start = _missing
run_detail = _missing
run_progress = _missing
run_compute = _missing
run_submit = _missing
run_approve = _missing
run_send_back = _missing
run_cancel = _missing
line_detail = _missing
