"""The Celery application.

Configured from Django's settings (the ``CELERY_`` names). Without a broker
the settings make every task run eagerly in the calling process.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zhenxingdai.settings")

app = Celery("zhenxingdai")
app.config_from_object("django.conf:settings", namespace="CELERY")
if not app.conf.broker_url:
    # Eager mode still needs a transport name; the in-memory one opens nothing.
    app.conf.broker_url = "memory://"
app.autodiscover_tasks()


@app.task(name="zhenxingdai.ping")
def ping() -> str:
    """Answer "pong" from whichever worker runs it: a liveness probe for workers."""
    return "pong"
