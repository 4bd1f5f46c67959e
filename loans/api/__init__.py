"""The credit co-op's REST API (v1), mounted at /api/v1/.

The co-op's core banking system calls it unattended: it reads released
applications, posts contracts, interest and principal repayments, and reads
its loans back. Every record carries the co-op's own transaction id, so a
retried request never counts anything twice (``ingest``). Errors always come
in one envelope (``exceptions``); keys are checked by ``authentication`` and
each view declares the permission it needs (``permissions``).
"""
