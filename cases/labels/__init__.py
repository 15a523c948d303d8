"""Analysts' decisions as per-account labels: what a person concluded about an account, why
(a reason code from a maintained list) and the history of revisions. Written by every path
that decides an account; read by exports, backtests and the signal-quality page."""
