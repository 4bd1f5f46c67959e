"""Queueing a task by its name.

A service that starts background work names the task (``"reports.generate"``)
rather than importing the tasks module, which imports the service back: tasks
call services, services only know task names, and the imports run one way.
Each app's ``AppConfig.ready`` imports its tasks, so a name is known in every
process, and eager mode (no broker) runs it in place as before.
"""

from celery import chord, current_app
from celery.canvas import Signature


def task(name: str, *args, immutable: bool = False) -> Signature:
    """The task called ``name`` with ``args``; ``immutable`` keeps a chord's
    part from receiving the result of the one before."""
    return current_app.signature(name, args=args, immutable=immutable)


def enqueue(name: str, *args):
    """Send the task called ``name`` to a worker (or run it at once in eager mode)."""
    return task(name, *args).delay()


def enqueue_chord(header: list[Signature], body: Signature):
    """Run the ``header`` tasks side by side, then ``body`` with their results."""
    return chord(header)(body)


def runs_in_place() -> bool:
    """Whether tasks run in the calling process (eager mode, no broker)."""
    return bool(current_app.conf.task_always_eager)
