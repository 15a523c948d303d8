"""Writes with side effects: each runs atomically and records its audit events.

One module per area (``workflow``, ``notes``, ``evidence``, ``enforcement``, ``exports``);
import from the module, e.g. ``from cases.services.workflow import case_change_status``.
"""
