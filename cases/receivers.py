"""Django signal receivers (in this project "signal" alone means a detection signal).

The queue's cached choice lists (``cases.selectors.queue_choice_names``) are forgotten when
anything they are read from changes: a user (added, renamed, activated, made superuser,
deleted), a user's groups, a group's permissions, a group or permission deleted, a tag added,
renamed or deleted, a reason code saved or deleted. A login only stamps ``last_login``, which
changes no list.
Connected in ``CasesConfig.ready``. Changes that send no signal (``QuerySet.update``,
``bulk_create``, raw SQL, data migrations) must call ``queue_choices_changed`` themselves, or
the lists stay as they were until the cache entry expires (docs/operations.md, "Cache").
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db.models.signals import m2m_changed, post_delete, post_save

from cases.models import ReasonCode, Tag
from cases.selectors import queue_choices_changed


def _forget(**kwargs) -> None:
    queue_choices_changed()


def _user_saved(update_fields=None, **kwargs) -> None:
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return
    queue_choices_changed()


def _membership_changed(action: str, **kwargs) -> None:
    if action in {"post_add", "post_remove", "post_clear"}:
        queue_choices_changed()


def connect() -> None:
    User = get_user_model()
    uid = "cases.queue_choices"
    post_save.connect(_user_saved, sender=User, dispatch_uid=f"{uid}.user_saved")
    post_delete.connect(_forget, sender=User, dispatch_uid=f"{uid}.user_deleted")
    for through in (User.groups.through, Group.permissions.through):
        m2m_changed.connect(
            _membership_changed, sender=through, dispatch_uid=f"{uid}.{through.__name__}"
        )
    for model in (Group, Permission):
        post_delete.connect(_forget, sender=model, dispatch_uid=f"{uid}.{model.__name__}")
    post_save.connect(_forget, sender=Tag, dispatch_uid=f"{uid}.tag_saved")
    post_delete.connect(_forget, sender=Tag, dispatch_uid=f"{uid}.tag_deleted")
    post_save.connect(_forget, sender=ReasonCode, dispatch_uid=f"{uid}.reason_saved")
    post_delete.connect(_forget, sender=ReasonCode, dispatch_uid=f"{uid}.reason_deleted")
