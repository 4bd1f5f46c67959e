"""The two counties' books of the league table's tests."""

from tests.reports.conftest import counties  # noqa: F401  (fixture)
