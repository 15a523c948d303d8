"""Detection parameters: their typed declaration, and the versions stored in the database.

``DetectionParams`` declares every parameter once: its type, its range, its default and a
short help text (the admin's config form is built from it, and shows that text). It is
frozen: a run reads one set of parameters from start to end. Loading a stored version and
checking it happen in one place, ``DetectionParams.from_stored``, which refuses unknown keys
and values of the wrong type or out of range, naming the parameter.

A ``DetectionConfig`` row is one version of these parameters, stored as JSON. Rows are never
edited: the admin writes a new version with its author and reason, and every run records the
version it used. "current" is the highest version; with none in the database, version 1 is
written from the defaults the first time it is asked for. A stored version that predates a
parameter reads that parameter from the defaults, so adding a knob never breaks an old
version. ``docs/detection.md`` explains each parameter.
"""

from detection.config.defaults import (
    CAPABILITY_PATTERNS,
    FREE_MAIL_DOMAINS,
    HOSTING_ASNS,
    REASONING_PATTERNS,
)
from detection.config.fields import COMMUNITIES, CONTENT, COORDINATION, FLAGGING, SIGNALS, WINDOW
from detection.config.params import DetectionParams
from detection.config.problems import ParamsError, Problem
from detection.config.versions import config_new_version, config_publish, current_config
from detection.config.weights import CapabilityPatterns, SignalSpec, SignalWeights, signal_label

__all__ = [
    "CAPABILITY_PATTERNS",
    "COMMUNITIES",
    "CONTENT",
    "COORDINATION",
    "FLAGGING",
    "FREE_MAIL_DOMAINS",
    "HOSTING_ASNS",
    "REASONING_PATTERNS",
    "SIGNALS",
    "WINDOW",
    "CapabilityPatterns",
    "DetectionParams",
    "ParamsError",
    "Problem",
    "SignalSpec",
    "SignalWeights",
    "config_new_version",
    "config_publish",
    "current_config",
    "signal_label",
]
