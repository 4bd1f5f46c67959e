"""`make bench`: run every bench/bench_*.py and print its figures.

Each module has ``run() -> list[Figure]`` and is run on a throwaway database
of the configured engine (set DATABASE_URL for PostgreSQL figures).
"""

import importlib
import os
import pkgutil
import sys
from pathlib import Path

import django


def main(selected: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zhenxingdai.settings")
    django.setup()
    from django.db import connection

    from bench.harness import throwaway_database

    names = sorted(
        info.name
        for info in pkgutil.iter_modules([str(Path(__file__).parent)])
        if info.name.startswith("bench_") and (not selected or info.name in selected)
    )
    print(f"database: {connection.vendor}; benchmarks: {', '.join(names)}")
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        with throwaway_database():
            for figure in module.run():
                print(figure.line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
