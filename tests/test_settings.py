from __future__ import annotations

import pytest

from analyzer_project.settings import env_list, env_rate

VALID_RATES = [
    ("600/min", "600/min"),
    ("5/s", "5/s"),
    ("10000/day", "10000/day"),
    ("1/h", "1/h"),
    ("off", None),
    ("OFF", None),
    ("", "600/min"),  # empty: the default
]
INVALID_RATES = [
    ("600", "expected a count per s, min, h or day"),
    ("600/minute", "expected a count per s, min, h or day"),
    ("0/min", "expected a count per s, min, h or day"),
    ("-5/s", "expected a count per s, min, h or day"),
    ("many/min", "expected a count per s, min, h or day"),
]


@pytest.mark.parametrize(("raw", "value"), VALID_RATES)
def test_a_rate_is_read_from_the_environment(monkeypatch, raw, value):
    monkeypatch.setenv("ANALYSIS_RATE_LIMIT", raw)
    assert env_rate("ANALYSIS_RATE_LIMIT", "600/min") == value


@pytest.mark.parametrize(("raw", "message"), INVALID_RATES)
def test_a_bad_rate_fails_naming_the_variable(monkeypatch, raw, message):
    monkeypatch.setenv("ANALYSIS_RATE_LIMIT", raw)
    with pytest.raises(ValueError, match=f"ANALYSIS_RATE_LIMIT='{raw}': {message}"):
        env_rate("ANALYSIS_RATE_LIMIT", "600/min")


@pytest.mark.parametrize(
    ("raw", "items"),
    [("", []), ("https://a.example", ["https://a.example"]), (" a , ,b ", ["a", "b"])],
)
def test_a_list_is_comma_separated(monkeypatch, raw, items):
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", raw)
    assert env_list("CORS_ALLOWED_ORIGINS") == items
