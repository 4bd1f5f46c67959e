"""Placeholder while the pages are written; every view answers 404."""

from django.http import Http404


def _missing(request, *args, **kwargs):
    raise Http404


payout = _missing
batch_issue = _missing
batch_file = _missing
batch_record = _missing
line_record = _missing
