"""The evidence source interface and the registry read from ``settings.EVIDENCE_SOURCES``.

A source is any object with a ``name`` and a ``collect(case_accounts, window)`` method that
returns ``{kind: data}``, where ``data`` is JSON-serialisable (dicts, lists, strings, numbers).
The built-in :class:`cases.evidence.telemetry.TelemetrySource` reads our own tables; a
deployment adds its own (a warehouse query, an internal API) by listing its dotted path in
``EVIDENCE_SOURCES``. Every source's sections are stored as immutable ``Evidence`` rows in the
snapshot, tagged with the source's name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

DEFAULT_SOURCES = ["cases.evidence.telemetry.TelemetrySource"]


@dataclass(frozen=True)
class Window:
    """The half-open telemetry window ``[start, end)`` a snapshot covers."""

    start: datetime
    end: datetime

    @property
    def hours(self) -> float:
        return max((self.end - self.start).total_seconds() / 3600, 0.0)


@dataclass(frozen=True)
class CaseAccounts:
    """The accounts a snapshot is about, as plain data a source can use without our models.

    ``pks`` are ``detection.Account`` primary keys (for the built-in source's SQL);
    ``account_ids`` are the provider's own identifiers, in the same order (for outside
    systems, which know accounts by those).
    """

    case_id: int
    pks: list[int]
    account_ids: list[str]
    campaign_label: str = ""
    detection_run_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.pks)


@runtime_checkable
class EvidenceSource(Protocol):
    """What an evidence source provides. Subclass nothing: any object with these will do."""

    name: str

    def collect(self, case_accounts: CaseAccounts, window: Window) -> dict[str, dict]:
        """Return ``{kind: data}``: each kind becomes one immutable Evidence row.

        Raise an exception to fail the snapshot with its message; raise a
        ``django.db.OperationalError`` (or the source's own ``TransientSourceError``) for a
        transient failure the task should retry.
        """
        ...


class TransientSourceError(Exception):
    """A source's own temporary failure (a timeout, a 503): the task retries, boundedly."""


def load_sources(paths: list[str] | None = None) -> list[EvidenceSource]:
    """Instantiate the configured sources, in order, checking each one's shape and name."""
    if paths is None:
        paths = getattr(settings, "EVIDENCE_SOURCES", None) or DEFAULT_SOURCES
    sources: list[EvidenceSource] = []
    seen: set[str] = set()
    for path in paths:
        try:
            factory = import_string(path)
        except ImportError as exc:
            raise ImproperlyConfigured(f"EVIDENCE_SOURCES: cannot import {path!r}: {exc}") from exc
        source = factory() if isinstance(factory, type) else factory
        name = getattr(source, "name", "")
        if not isinstance(source, EvidenceSource) or not isinstance(name, str) or not name:
            raise ImproperlyConfigured(
                f"EVIDENCE_SOURCES: {path!r} needs a non-empty `name` and a `collect` method"
            )
        if len(name) > 64:
            raise ImproperlyConfigured(f"EVIDENCE_SOURCES: source name {name!r} is too long")
        if name in seen:
            raise ImproperlyConfigured(f"EVIDENCE_SOURCES: two sources are named {name!r}")
        seen.add(name)
        sources.append(source)
    return sources
