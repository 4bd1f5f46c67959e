"""The whole demo, seeded once for the package (it takes a minute and a
half) inside a transaction rolled back at the end; each test runs in a
savepoint of its own, so what one test writes the next does not see.
The modules here only read the seeding or write inside their test."""

import datetime

import pytest
from django.db import transaction

from demo.services import demo_seed

TODAY = datetime.date(2026, 11, 23)


@pytest.fixture(scope="package")
def seeded(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        result = demo_seed(today=TODAY, others=False)
        yield result
        transaction.set_rollback(True)
