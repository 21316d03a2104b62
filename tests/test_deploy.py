"""Production settings: the web refuses the development key; `check --deploy` is clean."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml

from tests.conftest import ROOT, TEST_SECRET_KEY, free_port

# The production settings .env.example documents (HTTPS behind a TLS-terminating proxy).
DOCUMENTED = (ROOT / ".env.example").read_text().split("production sets")[1].split("\n# DJANGO_")[0]
PRODUCTION = {
    **dict(re.findall(r"(DJANGO_[A-Z_]+)=(\S+)", DOCUMENTED)),
    "DJANGO_SECRET_KEY": TEST_SECRET_KEY,
    "DJANGO_ALLOWED_HOSTS": "analyzer.example.com",
}
# Settings need no database to be checked: a URL that is never opened.
NO_DATABASE = {"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none", "PATH": "/usr/bin:/bin"}


def run(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**NO_DATABASE, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_deploy_is_clean_with_the_documented_production_settings():
    assert len(PRODUCTION) == 8
    checked = run("manage.py", "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert checked.returncode == 0, checked.stderr
    assert "System check identified no issues" in checked.stdout


def test_check_deploy_names_what_is_missing_without_them():
    checked = run("manage.py", "check", "--deploy")
    for check in ("security.W004", "security.W008", "security.W009", "security.W012"):
        assert check in checked.stderr


@pytest.mark.parametrize("key", ["", None])
def test_the_web_process_refuses_to_start_without_a_secret_key(key):
    env = {"PORT": str(free_port())}
    if key is not None:
        env["DJANGO_SECRET_KEY"] = key
    started = run("-m", "gunicorn", "analyzer_project.wsgi", "-c", "gunicorn.conf.py", **env)
    assert started.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in started.stderr
    assert "secrets.token_urlsafe(50)" in started.stderr


def test_other_processes_start_with_the_development_key():
    assert run("manage.py", "check").returncode == 0


def test_compose_will_not_start_the_web_without_a_secret_key():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    key = compose["services"]["web"]["environment"]["DJANGO_SECRET_KEY"]
    assert key.startswith("${DJANGO_SECRET_KEY:?set DJANGO_SECRET_KEY in .env")
