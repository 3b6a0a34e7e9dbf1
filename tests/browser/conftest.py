"""Browser test: reuses the system tests' helpers (tests/system/lrdemo.py)."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "system"))

from lrdemo import attach_stderr, no_secret_in_any_log, start_demo  # noqa: E402,F401


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    attach_stderr(item, outcome.get_result())


def pytest_collection_modifyitems(session, config, items):
    """test_border.py last: the border tests judge hls.js's playback over
    impaired paths to the frame, and whatever else still runs on the host
    (scripts/test runs this suite alone, after both lanes) is then done."""
    items.sort(key=lambda item: item.fspath.basename == "test_border.py")
