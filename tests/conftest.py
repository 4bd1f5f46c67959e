from types import SimpleNamespace

import pytest

from accounts.roles import Role
from accounts.services import user_create
from divisions.models import Division
from divisions.services import divisions_load
from tests import services
from zhenxingdai.celery import app as celery_app

PASSWORD = "correct-horse-battery-staple"
MOJIANG = "530822"


def pytest_runtest_setup(item):
    for marker in item.iter_markers():
        if marker.name in services.CHECKS:
            services.require(marker.name)


# The demo's loan book is seeded once per process that runs one of its tests
# (tests/demo/book/conftest.py), in a minute and a half.
DEMO_BOOK = "tests/demo/book/"


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """With ``--dist loadgroup`` (make test): the tests handed out one by one
    in collection order, as with ``load``, except the demo's loan book, one
    unit for one process, handed out first. xdist's own loadgroup reads
    ``xdist_group`` marks from a suffix of the node id, which pytest 9 no
    longer keeps, so the group is named here by its path."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class DemoBookTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return DEMO_BOOK if nodeid.startswith(DEMO_BOOK) else nodeid

    return DemoBookTogether(config, log)


def pytest_collection_modifyitems(items):
    # pytest-django has put the tests in its order (those in a transaction,
    # then the transactional ones, then those without a database). A test
    # marked ``first`` (long, and touching no shared database) goes to the
    # front, to run beside the others instead of alone after them.
    items.sort(key=lambda item: item.get_closest_marker("first") is None)
    # A transactional test ends by flushing every table, data migrations'
    # rows (role groups, industries, shipped programmes) included; restore
    # them for each such test so that test order never matters.
    for item in items:
        marker = item.get_closest_marker("django_db")
        transactional = marker is not None and marker.kwargs.get("transaction")
        if transactional and "serialized_rollback" not in marker.kwargs:
            kwargs = {**marker.kwargs, "serialized_rollback": True}
            item.add_marker(pytest.mark.django_db(*marker.args, **kwargs), append=False)


_skipped: list[str] = []


def pytest_runtest_logreport(report):
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    # A skip in CI means a service CI should have provided is missing.
    if services.IN_CI and _skipped and session.exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter):
    if services.IN_CI and _skipped:
        terminalreporter.write_line(
            f"CI=true: {len(_skipped)} test(s) skipped, which CI does not allow.", red=True
        )


@pytest.fixture(autouse=True, scope="session")
def fast_password_hashing():
    """Real hashing costs a tenth of a second per user: too slow for the cast."""
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def eager_celery():
    """Run tasks in-process unless a test asks for a real worker."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def mojiang(db) -> Division:
    return divisions_load(counties=[MOJIANG]).county


def make_cast() -> SimpleNamespace:
    """One account per role, with two township officers of different
    townships and the city and province offices above the county (every
    password ``PASSWORD``); outside a fixture too, for module-scoped data."""
    county = divisions_load(counties=[MOJIANG]).county
    township_a = Division.objects.get(code="530822101")  # 联珠镇
    township_b = Division.objects.get(code="530822102")  # 通关镇

    def make(username, role, township=None):
        return user_create(
            username=username,
            password=PASSWORD,
            role=role,
            township=township,
            county=None if township else county,
        )

    return SimpleNamespace(
        county_division=county,
        township_a=township_a,
        township_b=township_b,
        county=make("county-officer", Role.COUNTY),
        township_officer_a=make("township-officer-a", Role.TOWNSHIP, township_a),
        township_officer_b=make("township-officer-b", Role.TOWNSHIP, township_b),
        coop=make("coop", Role.COOP),
        finance=make("finance-officer", Role.FINANCE),
        auditor=make("auditor", Role.AUDITOR),
        # The offices above the county: 普洱市 and 云南省, both over Mojiang.
        city=user_create(
            username="city-office",
            password=PASSWORD,
            role=Role.CITY,
            office=county.parent,
        ),
        province=user_create(
            username="province-office",
            password=PASSWORD,
            role=Role.PROVINCE,
            office=county.parent.parent,
        ),
    )


@pytest.fixture
def cast(mojiang):
    """One account per role, with two township officers of different townships.

    Every account's password is ``PASSWORD``.
    """
    return make_cast()


@pytest.fixture
def roleless_user(db, django_user_model):
    return django_user_model.objects.create_user(username="nobody", password=PASSWORD)


@pytest.fixture
def celery_worker(eager_celery):
    """A real worker process on the Redis broker; tasks go to ``worker.queue``."""
    from tests.workers import start_worker

    services.require("redis")
    celery_app.conf.task_always_eager = False
    worker = start_worker()
    yield worker
    worker.stop()
