"""Saved views: a queue filter under a name, private or shared with the team. Only the owner
changes or deletes one; every change is audited (a shared view changes what colleagues see)."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from cases import audit
from cases.models import SavedView

MAX_VIEWS_PER_USER = 50


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError("a view needs a name")
    if len(name) > SavedView._meta.get_field("name").max_length:
        raise ValidationError("the name is too long")
    return name


def _save(view: SavedView) -> None:
    try:
        with transaction.atomic():
            view.save()
    except IntegrityError:
        raise ValidationError(f"you already have a view called “{view.name}”") from None


@transaction.atomic
def saved_view_create(*, owner, name: str, query: str, shared: bool = False) -> SavedView:
    if not owner.has_perm("cases.view_case"):
        raise PermissionDenied("your role cannot use the queue")
    if SavedView.objects.filter(owner=owner).count() >= MAX_VIEWS_PER_USER:
        raise ValidationError(f"you have {MAX_VIEWS_PER_USER} views already; delete one first")
    view = SavedView(
        owner=owner, name=_clean_name(name), query=SavedView.clean_query(query), shared=shared
    )
    _save(view)
    audit.record(
        "saved_view.created",
        actor=owner,
        target=view,
        data={"name": view.name, "query": view.query, "shared": view.shared},
    )
    return view


def _require_owner(view: SavedView, by) -> None:
    if view.owner_id != by.pk:
        raise PermissionDenied("only the person who saved a view can change it")


@transaction.atomic
def saved_view_update(
    *, view: SavedView, by, name: str, shared: bool, query: str | None = None
) -> SavedView:
    """Rename it, share or unshare it, and (``query`` given) give it a new filter."""
    _require_owner(view, by)
    before = {"name": view.name, "query": view.query, "shared": view.shared}
    view.name = _clean_name(name)
    view.shared = shared
    if query is not None:
        view.query = SavedView.clean_query(query)
    _save(view)
    after = {"name": view.name, "query": view.query, "shared": view.shared}
    changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if changes:
        audit.record("saved_view.changed", actor=by, target=view, data=changes)
    return view


@transaction.atomic
def saved_view_delete(*, view: SavedView, by) -> None:
    _require_owner(view, by)
    audit.record(
        "saved_view.deleted",
        actor=by,
        target=view,
        data={"name": view.name, "query": view.query, "shared": view.shared},
    )
    view.delete()
