from __future__ import annotations

from datetime import timedelta

import pytest

from analyzer_project.durations import format_duration, parse_duration

VALID = [
    ("5s", timedelta(seconds=5)),
    ("90s", timedelta(seconds=90)),
    ("10m", timedelta(minutes=10)),
    ("1h30m", timedelta(hours=1, minutes=30)),
    ("1.5h", timedelta(hours=1, minutes=30)),
    ("24h", timedelta(hours=24)),
    ("0s", timedelta(0)),
    (".5s", timedelta(milliseconds=500)),
    ("5.s", timedelta(seconds=5)),
    ("1h1m1s", timedelta(hours=1, minutes=1, seconds=1)),
    ("1s500ms", timedelta(seconds=1, milliseconds=500)),
    ("2500ms", timedelta(milliseconds=2500)),
    ("3us", timedelta(microseconds=3)),
    ("3µs", timedelta(microseconds=3)),
    ("3μs", timedelta(microseconds=3)),
    ("1500ns", timedelta(microseconds=1)),
    ("999ns", timedelta(0)),
    ("1m1m", timedelta(minutes=2)),
    ("0.000000001h", timedelta(microseconds=3)),
    ("00005s", timedelta(seconds=5)),
    ("2562047h", timedelta(hours=2562047)),
]


@pytest.mark.parametrize(("text", "expected"), VALID)
def test_it_parses_go_durations(text, expected):
    assert parse_duration(text) == expected


INVALID = [
    ("", "is empty"),
    ("0", "not a duration"),
    ("5", "not a duration"),
    ("abc", "not a duration"),
    ("-5s", "not a duration"),
    ("+5s", "not a duration"),
    ("1e3s", "not a duration"),
    ("5S", "not a duration"),
    ("5 s", "not a duration"),
    (" 5s", "not a duration"),
    ("5s ", "not a duration"),
    ("5s5", "not a duration"),
    (".s", "not a duration"),
    ("s", "not a duration"),
    ("5d", "not a duration"),
    ("1h 30m", "not a duration"),
    ("５s", "not a duration"),
    ("5s\n", "not a duration"),
    ("1" * 65 + "s", "longer than 64"),
    ("2562048h", "longer than Go allows"),
    ("2013094625644430681720μs.73712441401601μs", "longer than Go allows"),
]


@pytest.mark.parametrize(("text", "message"), INVALID)
def test_it_rejects_what_is_not_a_go_duration(text, message):
    with pytest.raises(ValueError, match=message):
        parse_duration(text)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(seconds=5), "5s"),
        (timedelta(hours=24), "24h0m0s"),
        (timedelta(minutes=1, seconds=30), "1m30s"),
        (timedelta(milliseconds=1500), "1.5s"),
    ],
)
def test_it_formats_as_go_does(value, text):
    assert format_duration(value) == text
    assert parse_duration(text) == value
