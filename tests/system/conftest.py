"""System tests: start the real program and talk to it as students and
lecturers would. Helpers and fixtures live in lrdemo.py (shared with
tests/browser)."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lrdemo import (attach_stderr, demo, lr_config, no_secret_in_any_log,  # noqa: E402,F401
                    start_demo)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    attach_stderr(item, outcome.get_result())
