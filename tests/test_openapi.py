from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import schemathesis
from django.core.management import call_command
from django.utils import timezone
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.conftest import ROOT, make_post, store

SCHEMA = ROOT / "openapi.yaml"


def test_the_committed_schema_matches_the_code(tmp_path: Path):
    generated = tmp_path / "openapi.yaml"
    call_command("spectacular", "--file", str(generated), "--validate")
    assert generated.read_text() == SCHEMA.read_text(), (
        "openapi.yaml is stale: run `.venv/bin/python manage.py spectacular --file openapi.yaml`"
    )


def test_the_docs_page_and_schema_are_served(client):
    assert client.get("/api/schema/").status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content


schema = schemathesis.openapi.from_path(SCHEMA)


@pytest.fixture
def api_with_posts(settings, live_server, transactional_db):
    """A live server answering every window from a table of posts (no stream to wait on)."""
    settings.REALTIME_MAX_DURATION = timedelta(0)
    now = timezone.now()
    store(
        *(
            (now - timedelta(seconds=2**i), make_post(likes=i, comments=i * 7, retweets=i % 2))
            for i in range(17)
        )
    )
    return live_server.url


@schema.parametrize()
@hypothesis_settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_generated_requests_get_no_5xx_and_conform_to_the_schema(case, api_with_posts):
    # OpenAPI cannot say "5s to 24h" of a Go duration: a pattern-valid "0s" is rightly a 400.
    case.call_and_validate(base_url=api_with_posts, excluded_checks=[positive_data_acceptance])
