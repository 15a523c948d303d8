"""Notes on a case: add, edit your own (keeping each earlier text), @mentions notify."""

import re

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from cases import audit
from cases.models import Case, Note, NoteRevision, Notification
from cases.selectors import users_who_view_cases

# "@ana", "@j.doe": a username after an @ that does not follow a word character (so e-mail
# addresses in a note do not notify anyone).
MENTION_RE = re.compile(r"(?<![\w@])@([\w.+-]+)")
MAX_NOTE_CHARS = 20_000


def mentioned_usernames(body: str) -> set[str]:
    return {m.group(1).rstrip(".") for m in MENTION_RE.finditer(body)}


def _clean(body: str) -> str:
    body = body.strip()
    if not body:
        raise ValidationError("a note cannot be empty")
    if len(body) > MAX_NOTE_CHARS:
        raise ValidationError(f"a note is at most {MAX_NOTE_CHARS:,} characters")
    return body


def _notify_mentions(*, note: Note, by, names: set[str]) -> list[Notification]:
    """One in-app notification per mentioned person who can read the case (not the author)."""
    if not names:
        return []
    users = users_who_view_cases().filter(username__in=names).exclude(pk=by.pk)
    who = by.get_username()
    return Notification.objects.bulk_create(
        Notification(
            user=user,
            case=note.case,
            message=f"{who} mentioned you on case #{note.case_id}: {note.case.title}"[:500],
        )
        for user in users
    )


@transaction.atomic
def note_add(*, case: Case, author, body: str) -> Note:
    if not author.has_perm("cases.work_case"):
        raise PermissionDenied("your role cannot write notes")
    note = Note.objects.create(case=case, author=author, body=_clean(body))
    notified = _notify_mentions(note=note, by=author, names=mentioned_usernames(note.body))
    audit.record(
        "note.added",
        actor=author,
        case=case,
        target=note,
        data={"mentions": sorted(n.user.get_username() for n in notified)},
    )
    return note


@transaction.atomic
def note_edit(*, note: Note, by, body: str) -> Note:
    """Change the text of your own note; the text it had is kept as a revision."""
    note = Note.objects.select_for_update().select_related("case").get(pk=note.pk)
    if note.author_id != by.pk or not by.has_perm("cases.work_case"):
        raise PermissionDenied("only the author can edit a note")
    body = _clean(body)
    if body == note.body:
        return note
    NoteRevision.objects.create(note=note, body=note.body)
    before = mentioned_usernames(note.body)
    note.body = body
    note.edited_at = timezone.now()
    note.save(update_fields=["body", "edited_at"])
    notified = _notify_mentions(note=note, by=by, names=mentioned_usernames(body) - before)
    audit.record(
        "note.edited",
        actor=by,
        case=note.case,
        target=note,
        data={"mentions": sorted(n.user.get_username() for n in notified)},
    )
    return note


@transaction.atomic
def notifications_mark_read(*, user, ids: list[int] | None = None) -> int:
    unread = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=ids)
    return unread.update(read_at=timezone.now())
