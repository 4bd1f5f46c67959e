"""History rows cannot be changed or deleted through the application: the
historical models refuse it, so do their querysets, the admin offers no way,
nothing but GET reaches the history pages, and on PostgreSQL the database
itself refuses UPDATE and DELETE of the history tables."""

import pytest
from django.contrib import admin
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import ProtectedError
from django.urls import reverse
from simple_history.admin import SimpleHistoryAdmin

from beneficiaries.models import Borrower, Household
from common.history import HistoryAppendOnlyError, historical_models
from tests.beneficiaries import factories


@pytest.fixture
def borrower(cast):
    borrower = factories.small_registry(cast).zhang
    borrower.phone = "13900001111"
    borrower._history_user = cast.county
    borrower.save()
    return borrower


def stored(row) -> tuple:
    """The row as the database holds it, read afresh."""
    fresh = type(row)._base_manager.get(history_id=row.history_id)
    return (fresh.history_type, fresh.history_user_id, fresh.phone, fresh.history_date)


def test_a_history_row_cannot_be_saved_again(borrower):
    row = borrower.history.earliest()
    before = stored(row)
    row.phone = "13800000000"
    with pytest.raises(HistoryAppendOnlyError):
        row.save()
    with pytest.raises(HistoryAppendOnlyError):
        row.save(update_fields=["phone"])
    assert stored(row) == before


def test_a_row_built_with_the_id_of_another_does_not_overwrite_it(cast, borrower):
    row = borrower.history.earliest()
    before = stored(row)
    forged = type(row)(**{f.attname: getattr(row, f.attname) for f in type(row)._meta.fields})
    forged.phone = "13800000000"
    with pytest.raises(IntegrityError), transaction.atomic():
        forged.save()
    assert stored(row) == before


def test_a_history_row_cannot_be_deleted(borrower):
    row = borrower.history.earliest()
    with pytest.raises(HistoryAppendOnlyError):
        row.delete()
    assert borrower.history.filter(history_id=row.history_id).exists()


def test_history_querysets_refuse_updates_and_deletes(cast, borrower):
    historical = type(borrower.history.earliest())
    rows = list(borrower.history.values_list("history_id", "phone", "history_user"))
    attempts = [
        lambda: borrower.history.all().delete(),
        lambda: borrower.history.update(phone="13800000000"),
        lambda: Borrower.history.filter(id=borrower.pk).delete(),
        lambda: historical.objects.all().delete(),
        lambda: historical.objects.filter(id=borrower.pk).update(history_user=cast.auditor),
        lambda: historical.objects.update_or_create(history_id=rows[0][0], defaults={"phone": "1"}),
        lambda: historical.objects.bulk_update(list(borrower.history.all()), ["phone"]),
    ]
    for attempt in attempts:
        with pytest.raises(HistoryAppendOnlyError):
            attempt()
    assert list(borrower.history.values_list("history_id", "phone", "history_user")) == rows


def test_every_historical_model_is_append_only():
    models = historical_models()
    labels = {model.instance_type._meta.label_lower for model in models}
    assert {
        "beneficiaries.borrower",
        "beneficiaries.household",
        "loans.application",
        "loans.loan",
        "loans.ledgerentry",
        "loans.programme",
        "subsidies.subsidyrun",
        "subsidies.subsidyline",
    } <= labels
    for model in models:
        assert type(model.objects.all()).update is not type(Household.objects.all()).update
        history = getattr(
            model.instance_type, model.instance_type._meta.simple_history_manager_attribute
        )
        with pytest.raises(HistoryAppendOnlyError):
            history.none().delete()


def test_the_admin_offers_no_way_to_change_delete_or_revert_history():
    historical = set(historical_models())
    for model, model_admin in admin.site._registry.items():
        assert model not in historical, model
        assert not isinstance(model_admin, SimpleHistoryAdmin), model


def test_a_user_named_in_the_history_cannot_be_deleted(cast, borrower):
    with pytest.raises(ProtectedError), transaction.atomic():
        cast.county.delete()
    assert Borrower.history.filter(history_user=cast.county).exists()
    cast.county.refresh_from_db()


def test_the_history_pages_take_nothing_but_get(client, cast):
    client.force_login(cast.auditor)
    for url in (reverse("history:list"), reverse("history:export", args=["csv"])):
        assert client.post(url).status_code == 405
        assert client.delete(url).status_code == 405


@pytest.mark.postgres
def test_postgresql_refuses_updates_and_deletes_of_history_tables_from_any_sql(borrower):
    row = borrower.history.earliest()
    before = stored(row)
    table = type(row)._meta.db_table
    for sql in (
        "UPDATE %s SET phone = '13800000000' WHERE history_id = %%s" % table,
        "DELETE FROM %s WHERE history_id = %%s" % table,
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [row.history_id])
    assert stored(row) == before
    # Every history table carries the trigger.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT event_object_table FROM information_schema.triggers "
            "WHERE trigger_name = 'zxd_append_only' AND event_manipulation = 'DELETE'"
        )
        guarded = {name for (name,) in cursor.fetchall()}
    assert guarded == {model._meta.db_table for model in historical_models()}
