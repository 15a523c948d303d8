"""Enforcement: proposal → four-eyes decision → delivery through an outbox → reversal.

Everything about it lives in this package, one module per job: ``models`` (the rows and their
invariants), ``services`` (the writes: proposals and decisions, the outbox that delivers
them), ``selectors`` (reads for its screens), ``forms``, ``views``, ``tasks`` (thin adapters
over the delivery services), the two delivery backends ``banlist`` and ``webhook`` with the
result they share in ``backends``, and ``blast_radius`` (the pure rules a proposal is checked
against). Its templates are under ``templates/cases/enforcement/``. The models keep the
``cases`` app label; ``cases.models`` imports them so Django finds them.
"""
