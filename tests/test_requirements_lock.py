"""The lock file: every dependency pyproject.toml names (the app's and every group's) is
pinned to one version that its range allows, with hashes, and ``make install`` installs
from it with ``--require-hashes``, so two installs of one commit get the same packages."""

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    entries = list(project["project"]["dependencies"])
    for group in project["dependency-groups"].values():
        entries += [e for e in group if isinstance(e, str)]  # the rest include other groups
    return [Requirement(e) for e in entries]


def _locked() -> dict[str, tuple[Version, int]]:
    """name -> (pinned version, number of hashes)."""
    pins: dict[str, tuple[Version, int]] = {}
    name = None
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        found = PIN.match(line)
        if found:
            name = canonicalize_name(found.group(1))
            pins[name] = (Version(found.group(2)), 0)
        elif name and line.strip().startswith("--hash=sha256:"):
            version, hashes = pins[name]
            pins[name] = (version, hashes + 1)
    return pins


def test_every_declared_dependency_is_pinned_within_its_range_with_hashes():
    locked = _locked()
    assert len(locked) > 50
    for requirement in _declared():
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{name} is in pyproject.toml but not locked: run make lock"
        version, hashes = locked[name]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{name}=={version} is outside {requirement.specifier}: run make lock"
        )
        assert hashes > 0, f"{name} is locked without a hash"
    assert all(hashes > 0 for _, hashes in locked.values())


def test_make_install_installs_the_lock_with_hashes_required():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^LOCK := requirements\.lock$", makefile, re.M)
    assert "pip install -q --require-hashes -r $(LOCK)" in makefile
    assert "pip install -q --no-deps -e ." in makefile  # the project itself adds nothing
