"""The stored versions of the parameters: the current one, and writing the next."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from detection.config.params import DetectionParams


def current_config():
    """The highest version; version 1 from the defaults if there is none yet."""
    from detection.models import DetectionConfig

    config = DetectionConfig.objects.order_by("-version").first()
    if config is not None:
        return config
    try:
        with transaction.atomic():
            return DetectionConfig.objects.create(
                version=1, params=DetectionParams().to_stored(), reason="Defaults from the code."
            )
    except IntegrityError:  # another process wrote v1 first
        return DetectionConfig.objects.get(version=1)


@transaction.atomic
def config_new_version(*, params: DetectionParams, reason: str, author=None):
    """Write ``params`` as the next version. Raises ``ValueError`` without a reason."""
    from detection.models import DetectionConfig

    if not reason.strip():
        raise ValueError("a new configuration version needs a reason")
    DetectionConfig.objects.select_for_update().order_by("-version").first()
    latest = DetectionConfig.objects.order_by("-version").values_list("version", flat=True).first()
    return DetectionConfig.objects.create(
        version=(latest or 0) + 1,
        params=params.to_stored(),
        reason=reason.strip(),
        created_by=author if author is not None and author.is_authenticated else None,
    )
