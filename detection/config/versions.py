"""The stored versions of the parameters: the one in force, writing the next, publishing.

A version is saved either published (in force from then on) or as a draft (backtested,
never used by a run). The version in force is the one published last, so publishing an
earlier version again restores it; each publication is kept with its reason and author.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from detection.config.params import DetectionParams


def current_config():
    """The version in force: the one published last (versions saved before publishing
    existed count in version order); version 1 from the defaults if there is none yet."""
    from detection.models import DetectionConfig

    config = (
        DetectionConfig.objects.filter(is_draft=False)
        .order_by(F("published_at").desc(nulls_last=True), "-version")
        .first()
    )
    if config is not None:
        return config
    try:
        with transaction.atomic():
            return DetectionConfig.objects.create(
                version=1,
                params=DetectionParams().to_stored(),
                reason="Defaults from the code.",
                published_at=timezone.now(),
            )
    except IntegrityError:  # another process wrote v1 first
        return DetectionConfig.objects.get(version=1)


def _user(author):
    return author if author is not None and author.is_authenticated else None


@transaction.atomic
def config_new_version(*, params: DetectionParams, reason: str, author=None, draft: bool = False):
    """Write ``params`` as the next version, in force at once unless ``draft``.
    Raises ``ValueError`` without a reason."""
    from detection.models import ConfigPublication, DetectionConfig

    if not reason.strip():
        raise ValueError("a new configuration version needs a reason")
    DetectionConfig.objects.select_for_update().order_by("-version").first()
    latest = DetectionConfig.objects.order_by("-version").values_list("version", flat=True).first()
    previous = None if draft or latest is None else current_config()
    now = timezone.now()
    config = DetectionConfig.objects.create(
        version=(latest or 0) + 1,
        params=params.to_stored(),
        reason=reason.strip(),
        created_by=_user(author),
        is_draft=draft,
        published_at=None if draft else now,
    )
    if not draft:
        ConfigPublication.objects.create(
            config=config,
            previous=previous,
            reason=reason.strip(),
            published_by=_user(author),
            published_at=now,
        )
    return config


@transaction.atomic
def config_publish(*, config, reason: str, author=None):
    """Put ``config`` in force: a draft goes live, an earlier version is restored.

    Raises ``ValueError`` without a reason or when ``config`` is already in force."""
    from detection.models import ConfigPublication, DetectionConfig

    if not reason.strip():
        raise ValueError("publishing a version needs a reason")
    DetectionConfig.objects.select_for_update().order_by("-version").first()
    previous = current_config()
    if previous.pk == config.pk:
        raise ValueError(f"{config} is already the version in force")
    now = timezone.now()
    DetectionConfig.objects.filter(pk=config.pk).update(is_draft=False, published_at=now)
    config.refresh_from_db(fields=["is_draft", "published_at"])
    return ConfigPublication.objects.create(
        config=config,
        previous=previous,
        reason=reason.strip(),
        published_by=_user(author),
        published_at=now,
    )
