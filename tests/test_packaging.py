"""There is no Docker engine here: check the compose file against the project instead."""

from __future__ import annotations

import re
import shlex
from datetime import timedelta

import pytest
import requests
import yaml
from django.core.management import get_commands
from django.utils import timezone

from tests.conftest import ROOT, make_post, store

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DOCUMENTED = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
SERVICES = COMPOSE["services"]


@pytest.mark.parametrize("name", ["migrate", "web", "collector", "scheduler"])
def test_each_app_service_runs_a_command_of_the_project_from_the_one_image(name):
    service = SERVICES[name]
    assert service["image"] == "stream-analyzer"
    assert service["env_file"] == ".env"
    args = shlex.split(service["command"])
    if args[:2] == ["python", "manage.py"]:
        assert args[2] in get_commands()
    else:
        assert args[:2] == ["gunicorn", "analyzer_project.wsgi"]
        assert (ROOT / args[args.index("--config") + 1]).exists()


def test_postgres_has_a_named_volume_and_a_readiness_healthcheck():
    postgres = SERVICES["postgres"]
    assert postgres["image"].startswith("postgres:")
    volume = postgres["volumes"][0].split(":")[0]
    assert volume in COMPOSE["volumes"]
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])


def test_every_variable_compose_or_settings_use_is_documented():
    compose_text = (ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"\$\{([A-Z_]+)\}", compose_text))
    settings_text = (ROOT / "analyzer_project" / "settings.py").read_text()
    used |= set(re.findall(r'env_\w+\("([A-Z_]+)"', settings_text))
    used |= set(re.findall(r'environ(?:\.get\(|\[)"([A-Z_]+)"', settings_text))
    used |= set(re.findall(r'environ\.get\("([A-Z_]+)"', (ROOT / "gunicorn.conf.py").read_text()))
    assert used - DOCUMENTED == set()
    assert {"DATABASE_URL", "STREAM_URL", "RETENTION", "DJANGO_SECRET_KEY"} <= used


def test_the_image_runs_as_a_non_root_user_and_installs_pinned_requirements():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.MULTILINE)
    assert "pip install -r requirements.txt" in dockerfile
    lines = [
        line.split("#")[0].strip()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.split("#")[0].strip()
    ]
    assert all("==" in line for line in lines)


@pytest.mark.django_db(transaction=True)
def test_gunicorn_as_in_compose_serves_both_modes(simulator, gunicorn):
    sim = simulator(rate=100)
    arrived = timezone.now() - timedelta(seconds=30)
    store((arrived, make_post(comments=4)), (arrived, make_post(comments=9)))
    base = gunicorn(STREAM_URL=sim.url, ANALYSIS_MIN_DURATION="1s").url
    live = requests.get(f"{base}/analysis?duration=1s&dimension=comments", timeout=10)
    assert live.status_code == 200
    assert live.json()["total_posts"] > 50
    stored = requests.get(f"{base}/analysis?duration=2m&dimension=comments", timeout=10)
    assert stored.status_code == 200
    assert stored.json()["comments_p90"] == 9
    assert int(stored.headers["X-Data-Age"]) >= 30
