"""Fixtures shared by the ingest test modules."""

import pytest
from django.db import connection


@pytest.fixture
def data_dir(settings, tmp_path):
    """Reject files, uploads and reports go to this test's own folder."""
    settings.DATA_DIR = tmp_path / "data"
    return settings.DATA_DIR


@pytest.fixture(params=["copy", "portable"])
def loader(request):
    """Each ingest test runs once per loader, so both are held to the same behaviour."""
    if request.param == "copy" and connection.vendor != "postgresql":
        pytest.skip("the COPY loader needs PostgreSQL")
    return request.param
