"""A held-out traffic generator and its scorer, written without reading the detector."""
