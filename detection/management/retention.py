"""The options the prune commands share (``prune_telemetry``, ``prune_exports``)."""

from django.conf import settings
from django.core.management.base import CommandError


def add_retention_arguments(parser, setting: str) -> None:
    """``--older-than-days N`` (default: the ``setting``) and ``--dry-run``."""
    parser.add_argument(
        "--older-than-days",
        type=int,
        default=None,
        metavar="N",
        help=f"retention in days (default: {setting}, now {getattr(settings, setting)})",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="count what would be deleted, delete nothing"
    )


def older_than_days(options: dict) -> int | None:
    """The ``--older-than-days`` given, refused (exit status 2) when negative."""
    days = options["older_than_days"]
    if days is not None and days < 0:
        raise CommandError("--older-than-days cannot be negative", returncode=2)
    return days
