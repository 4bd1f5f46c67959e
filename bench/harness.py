"""What every benchmark shares: a throwaway database, a timer, and one way
to print a figure beside a baseline measured in the same run.

Machines here are noisy, so a figure alone means little; the ratio to a
baseline timed moments before on the same machine is what to compare.
"""

import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connection


@contextmanager
def throwaway_database() -> Iterator[None]:
    """Run on a fresh ``test_<name>`` database, destroyed afterwards, so a
    benchmark never touches real data."""
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def timed(function: Callable[[], object], *, repeat: int = 7, warmup: int = 1) -> float:
    """Median wall-clock seconds of one call, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        function()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


@dataclass(frozen=True)
class Figure:
    name: str
    seconds: float
    baseline_name: str
    baseline_seconds: float
    goal_ratio: float | None = None

    @property
    def ratio(self) -> float:
        return self.seconds / self.baseline_seconds

    def line(self) -> str:
        verdict = ""
        if self.goal_ratio is not None:
            verdict = " (goal ≤ %.1f: %s)" % (
                self.goal_ratio,
                "met" if self.ratio <= self.goal_ratio else "NOT MET",
            )
        return "%-48s %10.3f ms   baseline %-32s %10.3f ms   ratio %7.2f%s" % (
            self.name,
            self.seconds * 1000,
            self.baseline_name,
            self.baseline_seconds * 1000,
            self.ratio,
            verdict,
        )
