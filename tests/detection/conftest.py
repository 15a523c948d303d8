"""Fixtures shared by the ingest test modules."""

import pytest
from django.db import connection

from detection.ingest import parallel, service


@pytest.fixture
def data_dir(settings, tmp_path):
    """Reject files, uploads and reports go to this test's own folder."""
    settings.DATA_DIR = tmp_path / "data"
    return settings.DATA_DIR


@pytest.fixture(params=["copy", "portable", "parallel"])
def loader(request, settings, monkeypatch):
    """Each ingest test runs once per loader, so all are held to the same behaviour.

    ``parallel`` is the COPY loader with what it does to big files done to every file: the
    exchanges parsed in two worker processes (detection.ingest.parallel), a piece of about a
    kilobyte each, and, into an empty table, the bulk path (indexes dropped, built again
    after the load)."""
    if request.param != "portable" and connection.vendor != "postgresql":
        pytest.skip("the COPY loader needs PostgreSQL")
    if request.param == "parallel":
        monkeypatch.setattr(parallel, "MIN_FILE_BYTES", 0)
        monkeypatch.setattr(parallel, "BLOCK_BYTES", 1024)  # files of several pieces
        monkeypatch.setattr(parallel, "MERGE_BYTES", 3000)  # and of several COPY statements
        monkeypatch.setattr(service, "BULK_MIN_BYTES", 0)
        settings.INGEST_WORKERS = 2
        return "copy"
    return request.param
