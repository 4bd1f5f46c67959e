"""The two counties' books of the league table's tests."""

from tests.reports.test_league import counties  # noqa: F401  (fixture)
