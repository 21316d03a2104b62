"""What every answer carries: X-Request-ID, CORS for configured origins, gzip for JSON."""

from __future__ import annotations

import gzip
import json
import re

import pytest
import requests

pytestmark = pytest.mark.django_db

REQUEST_IDS = [
    # (X-Request-ID sent) -> kept?
    ("3f2a9c1e-7b4d-4c1a-9f5e-0d2b8a6c4e11", True),
    ("trace.abc_123:4/5+6=7@x", True),
    ("a" * 128, True),
    ("a" * 129, False),
    ("two words", False),
    ("x\r\nForged-Line: 1", False),
    ("", False),
]


@pytest.mark.parametrize(("given", "kept"), REQUEST_IDS)
def test_a_sane_request_id_is_returned_and_any_other_replaced(client, given, kept):
    response = client.get("/healthz", HTTP_X_REQUEST_ID=given)
    if kept:
        assert response["X-Request-ID"] == given
    else:
        assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_every_answer_has_a_request_id_errors_included(client):
    for path in ("/healthz", "/analysis?duration=oops&dimension=likes", "/nope", "/admin/"):
        assert re.fullmatch(r"[0-9a-f]{32}", client.get(path)["X-Request-ID"])


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("log_format", ["plain", "json"])
def test_the_request_id_is_on_every_log_line_of_the_request(gunicorn, tmp_path, log_format):
    log = tmp_path / "web.log"
    with log.open("w") as output:
        web = gunicorn(output=output, LOG_FORMAT=log_format)
        answer = requests.get(
            f"{web.url}/analysis?duration=oops&dimension=likes",
            headers={"X-Request-ID": "drill-42"},
            timeout=10,
        )
        web.process.terminate()
        web.process.wait(30)
    assert answer.headers["X-Request-ID"] == "drill-42"
    lines = [line for line in log.read_text().splitlines() if "/analysis" in line]
    assert len(lines) == 2  # django.request's warning and gunicorn's access line
    if log_format == "json":
        warning = json.loads(next(line for line in lines if line.startswith("{")))
        assert (warning["request_id"], warning["logger"]) == ("drill-42", "django.request")
    assert all(
        "request_id=drill-42" in line or '"request_id": "drill-42"' in line for line in lines
    )


ORIGIN = "https://dashboard.example.com"


@pytest.fixture
def cors(settings) -> None:
    settings.CORS_ALLOWED_ORIGINS = [ORIGIN]


def test_a_configured_origin_may_read_the_api_and_its_headers(client, cors):
    response = client.get("/analysis?duration=oops&dimension=likes", HTTP_ORIGIN=ORIGIN)
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    exposed = response["Access-Control-Expose-Headers"]
    assert {"Retry-After", "X-Request-ID", "X-Window-Start"} <= set(exposed.split(", "))


def test_a_preflight_allows_get_only(client, cors):
    response = client.options(
        "/analysis", HTTP_ORIGIN=ORIGIN, HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET"
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Methods"] == "GET"


@pytest.mark.parametrize(
    ("origin", "path"),
    [
        ("https://evil.example.com", "/analysis?duration=oops&dimension=likes"),
        (ORIGIN, "/admin/login/"),  # the admin is never cross-origin
    ],
)
def test_other_origins_and_paths_get_no_cors_headers(client, cors, origin, path):
    response = client.get(path, HTTP_ORIGIN=origin)
    assert "Access-Control-Allow-Origin" not in response


def test_no_origin_is_allowed_by_default(client):
    response = client.get("/analysis?duration=oops&dimension=likes", HTTP_ORIGIN=ORIGIN)
    assert "Access-Control-Allow-Origin" not in response


def test_large_json_is_gzipped_for_clients_that_accept_it(client):
    plain = client.get("/api/schema/?format=json")
    zipped = client.get("/api/schema/?format=json", HTTP_ACCEPT_ENCODING="gzip, deflate")
    assert "Content-Encoding" not in plain
    assert zipped["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped["Vary"]
    body = gzip.decompress(zipped.content)
    assert json.loads(body) == json.loads(plain.content)
    assert len(zipped.content) < len(body) / 3


def test_html_pages_are_not_gzipped(client):
    page = client.get("/admin/login/", HTTP_ACCEPT_ENCODING="gzip")
    assert page.status_code == 200
    assert "Content-Encoding" not in page


def test_a_small_json_answer_is_sent_as_it_is(client):
    small = client.get("/healthz", HTTP_ACCEPT_ENCODING="gzip")
    assert "Content-Encoding" not in small
