"""Synthetic, labelled telemetry for demos, tests and benchmarks (``generate_traffic``).

A realistic mix of ordinary customers, the legitimate look-alikes that must never be banned
(enterprise integrations, campuses behind NAT, benchmark runners, coding-agent users, VPN
users, small teams sharing a card) and 3-5 planted distillation campaigns, written in the
public ingest format with a separate labels file. docs/synthetic-data.md describes every
cohort and campaign, what it imitates and which signals it should and should not trip.

Modules: ``base`` (the plan's data classes and per-account rendering), ``timing`` (request
rhythms), ``pools`` (networks, user agents, domains), ``prompts_benign`` and
``prompts_harvest`` (prompt pools and templates), ``cohorts`` (individuals),
``organisations`` (companies, labs, teams) and ``campaigns`` (planners),
``writer`` (streaming JSONL/CSV) and ``generate`` (the entry point).
"""

from detection.synthetic.generate import generate, plan

__all__ = ["generate", "plan"]
