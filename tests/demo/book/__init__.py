"""The Mojiang demo's loan book, subsidy year and county report, checked on
one seeding shared by the package (conftest.py)."""
