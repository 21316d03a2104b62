"""Without DATABASE_URL, the embedded PostgreSQL starts on a process's first connection."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from tests.conftest import ROOT

# manage.py in a process that cannot import pgserver, hence cannot start the embedded server.
MANAGE_WITHOUT_PGSERVER = """
import sys
sys.modules["pgserver"] = None
from django.core.management import execute_from_command_line
execute_from_command_line(["manage.py", *sys.argv[1:]])
"""


def manage(*args: str) -> subprocess.Popen:
    env = {name: value for name, value in os.environ.items() if name != "DATABASE_URL"}
    return subprocess.Popen(
        [sys.executable, "-c", MANAGE_WITHOUT_PGSERVER, *args],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "analyzer_project.settings"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["help"], "collect_stream"),  # listed only once settings loaded
        (["check"], "System check identified no issues"),
        (["collect_stream", "--help"], "--buffer-limit"),
    ],
)
def test_a_command_that_needs_no_database_starts_none(args, expected):
    process = manage(*args)
    output = process.communicate(timeout=60)[0]
    assert process.returncode == 0, output
    assert expected in output


def test_the_simulator_serves_without_a_database():
    process = manage("simulate_stream", "--port", "0")
    try:
        first_line = process.stdout.readline()
        process.send_signal(signal.SIGTERM)
        output = first_line + process.communicate(timeout=30)[0]
    finally:
        process.kill()
    assert "simulating the stream on http://127.0.0.1:" in output
    assert process.returncode == 0, output


def test_a_command_that_uses_the_database_starts_it():
    process = manage("showmigrations", "ingestion")
    output = process.communicate(timeout=60)[0]
    assert process.returncode != 0
    assert "import of pgserver halted" in output
