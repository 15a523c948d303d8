"""Watch-list indicators shared by other labs and partners, and flags from other systems.

Indicators arrive as files (Meta's ``indicator_type, indicator_value, comment`` CSV, or STIX
2.1 bundles) through ``import_indicators`` or the admin's upload page, and leave as STIX or
CSV from a case. Each indicator names one thing an account or its traffic can show (an
address, a range, an ASN, an email domain, a card fingerprint, a prompt template, an account
id); :mod:`detection.indicators.matching` marks the accounts that show it, and the
``watch_list`` signal counts those marks. A flag from another system (``ExternalFlag``) names
an account directly and is the ``external_flag`` signal.

Modules: ``models`` (the tables), ``parse`` (pure: files to candidate rows and per-row
rejects), ``stix`` (STIX 2.1 patterns in and bundles out), ``matching`` (indicators to
accounts), ``services`` (imports, flags, exports: the writes).
"""
