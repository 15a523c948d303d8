import pytest
from django.db import DatabaseError, connection, transaction

from cases import audit
from cases.models import AuditEvent
from cases.models.audit import AppendOnlyError


@pytest.mark.django_db
def test_audit_events_cannot_be_changed_or_deleted_through_the_orm(analyst):
    event = audit.record("case.viewed", actor=analyst, data={"why": "test"})

    event.verb = "something.else"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(verb="x")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).verb == "case.viewed"


@pytest.mark.django_db
def test_the_database_refuses_raw_updates_and_deletes_on_postgresql(analyst):
    if connection.vendor != "postgresql":
        pytest.skip("the trigger is PostgreSQL's")
    event = audit.record("case.viewed", actor=analyst)
    for sql in (
        "UPDATE cases_auditevent SET verb = 'x' WHERE id = %s",
        "DELETE FROM cases_auditevent WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [event.pk])
    assert AuditEvent.objects.filter(pk=event.pk, verb="case.viewed").exists()


@pytest.mark.django_db
def test_the_admin_offers_no_add_change_or_delete(admin_client_, analyst):
    event = audit.record("case.viewed", actor=analyst)
    assert admin_client_.get(f"/admin/cases/auditevent/{event.pk}/delete/").status_code == 403
    assert admin_client_.get("/admin/cases/auditevent/add/").status_code == 403
    response = admin_client_.post(f"/admin/cases/auditevent/{event.pk}/change/", {"verb": "x"})
    assert response.status_code == 403
    assert AuditEvent.objects.get(pk=event.pk).verb == "case.viewed"
