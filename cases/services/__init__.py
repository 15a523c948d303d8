"""Writes with side effects: each runs atomically and records its audit events.

One module per area (``workflow``, ``notes``, ``accounts``, ``merge``, ``bulk``, ``exports``);
import from the module, e.g. ``from cases.services.workflow import case_change_status``.
Enforcement's and evidence's writes live in their packages (``cases.enforcement.services``,
``cases.evidence.services``).
"""
