"""The managers' period report: its figures (``selectors``), page and exports (``views``,
``exports``), and its scheduled delivery by email (``models``, ``services``, ``tasks``)."""
