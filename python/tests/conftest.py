"""Shared fixtures and helpers for the h5oxide Python tests.

Every test compares h5oxide with real h5py (libhdf5) on the same file.

A corpus test that fails because h5oxide reports a feature as *unsupported* (an ``OSError``
whose message contains ``unsupported``) is reported as xfail with that message only when the
file is a declared gap of the Rust engine (listed in
``crates/h5oxide-cli/tests/corpus-expectations.txt``). Any other failure, and every wrong value,
fails.
"""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def shared_dir():
    """The shared folder: $H5OXIDE_SHARED or <repo>/../shared (or a shared/ in an ancestor)."""
    env = os.environ.get("H5OXIDE_SHARED")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared")
    candidates += [p / "shared" for p in REPO.parents]
    for c in candidates:
        if (c / "corpus" / "MANIFEST.tsv").is_file():
            return c
    raise RuntimeError(
        "shared folder not found (looked for corpus/MANIFEST.tsv in "
        + ", ".join(str(c) for c in candidates)
        + "); set H5OXIDE_SHARED"
    )


def declared_gaps():
    """Corpus files the corpus conformance test lists as unsupported."""
    path = REPO / "crates" / "h5oxide-cli" / "tests" / "corpus-expectations.txt"
    gaps = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            gaps.add(line.split("\t", 1)[0])
    return gaps


DECLARED_GAPS = declared_gaps()


def is_unsupported(exc):
    """True if exc says that h5oxide does not support a feature yet."""
    return isinstance(exc, OSError) and "unsupported" in str(exc)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if call.when == "call" and call.excinfo is not None and rep.failed:
        exc = call.excinfo.value
        params = getattr(getattr(item, "callspec", None), "params", {})
        if is_unsupported(exc) and params.get("rel") in DECLARED_GAPS:
            rep.outcome = "skipped"
            rep.wasxfail = f"h5oxide: {exc}"
