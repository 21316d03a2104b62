from __future__ import annotations

import json

import pytest

from ingestion.parser import POST_TYPES, RejectedEvent, parse_event

SPEC_TWEET = (
    '{"tweet":{"id":959084760,"content":"Wishing for summer","retweets":19,"favorites":643,'
    '"timestamp":1681859460,"post_id":"1648464174270521347","is_retweet":false,"comments":24}}'
)
SPEC_PIN = (
    '{"pin":{"id":100953162,"title":"","description":" ","links":"https://example.com/x",'
    '"likes":0,"comments":0,"saves":0,"repins":0,"timestamp":1695204160,'
    '"post_id":"269019777733782592"}}'
)

REJECTED = [
    ("{", "invalid_json"),
    ("", "invalid_json"),
    ("not json", "invalid_json"),
    ("[1, 2]", "not_an_object"),
    ("42", "not_an_object"),
    ('"tweet"', "not_an_object"),
    ("null", "not_an_object"),
    ("{}", "no_root_key"),
    ('{"tweet": {"timestamp": 1}, "pin": {"timestamp": 2}}', "several_root_keys"),
    ('{"tweet": [1]}', "value_not_an_object"),
    ('{"tweet": "x"}', "value_not_an_object"),
    ('{"tweet": null}', "value_not_an_object"),
    ('{"tweet": {"likes": 1}}', "missing_timestamp"),
    ('{"tweet": {"timestamp": "1700000000"}}', "invalid_timestamp"),
    ('{"tweet": {"timestamp": true}}', "invalid_timestamp"),
    ('{"tweet": {"timestamp": false}}', "invalid_timestamp"),
    ('{"tweet": {"timestamp": 1.5}}', "invalid_timestamp"),
    ('{"tweet": {"timestamp": null}}', "invalid_timestamp"),
    ('{"tweet": {"timestamp": 1e30}}', "invalid_timestamp"),
    ('{"tweet": {"timestamp": 99999999999999999999}}', "invalid_timestamp"),
    # orjson refuses these and json.loads (the fallback) decides: the verdicts are json's.
    ('{"tweet": {"timestamp": NaN}}', "invalid_timestamp"),
    ('{"tweet": {"timestamp": Infinity}}', "invalid_timestamp"),
    ('{"tweet": {"timestamp": -Infinity}}', "invalid_timestamp"),
    ('{"tweet": {"timestamp": 1e400}}', "invalid_timestamp"),
    ('{"tweet": {"timestamp": 18446744073709551616}}', "invalid_timestamp"),
    # orjson reads an integer below -2**63 as a float: still out of range.
    ('{"tweet": {"timestamp": -9223372036854775809}}', "invalid_timestamp"),
    ('{"tweet": {"timestamp": 1, "x": ' + "[" * 1100 + "]" * 1100 + "}}", "invalid_json"),
    ('{"tweet": {"timestamp": 1, "x": "\\ud800"}, "pin": {}}', "several_root_keys"),
]


@pytest.mark.parametrize(("data", "reason"), REJECTED)
def test_it_rejects_what_is_not_a_post(data, reason):
    with pytest.raises(RejectedEvent) as raised:
        parse_event(data)
    assert raised.value.reason == reason


@pytest.mark.parametrize("post_type", [*POST_TYPES, "some_type_from_the_future"])
def test_every_post_type_is_a_post(post_type):
    post = parse_event(json.dumps({post_type: {"timestamp": 1_700_000_000, "likes": 3}}))
    assert (post.post_type, post.created_ts, post.likes) == (post_type, 1_700_000_000, 3)


def test_it_reads_the_spec_examples():
    tweet = parse_event(SPEC_TWEET)
    assert (tweet.favorites, tweet.retweets, tweet.comments, tweet.likes) == (643, 19, 24, None)
    assert (tweet.upstream_id, tweet.post_id, tweet.text) == (
        959084760,
        "1648464174270521347",
        "Wishing for summer",
    )
    pin = parse_event(SPEC_PIN)
    assert (pin.likes, pin.comments, pin.metrics) == (0, 0, {"saves": 0, "repins": 0})
    assert (pin.text, pin.link) == ("", "https://example.com/x")


CARRIED = [
    (0, 0),
    (7, 7),
    (120.0, 120),
    (2**53, 2**53),
    (2**63 - 1, 2**63 - 1),
    (True, None),
    (False, None),
    (-1, None),
    (3.5, None),
    ("12", None),
    (None, None),
    ([1], None),
    ({"n": 1}, None),
    (2**63, None),
    (2**64, None),
    (-(2**63) - 1, None),
    (float("nan"), None),
    (float("inf"), None),
    (1e400, None),
]


@pytest.mark.parametrize(("value", "carried"), CARRIED)
def test_a_dimension_is_carried_only_as_a_non_negative_integer(value, carried):
    post = parse_event(json.dumps({"tweet": {"timestamp": 1, "likes": value, "views": value}}))
    assert post.likes == carried
    assert post.metrics.get("views") == carried


def test_nesting_up_to_1000_levels_is_json():
    """orjson's limit (1024 levels), where json.loads stopped at Python's recursion limit."""
    nested = "[" * 1000 + "]" * 1000
    assert parse_event(f'{{"tweet": {{"timestamp": 1, "x": {nested}}}}}').created_ts == 1


def test_duplicate_keys_keep_the_last_value():
    post = parse_event('{"tweet": {"timestamp": 1, "timestamp": 2, "likes": 3, "likes": 4}}')
    assert (post.created_ts, post.likes) == (2, 4)


def test_an_integral_float_timestamp_counts():
    assert parse_event('{"tweet": {"timestamp": 1.7e9}}').created_ts == 1_700_000_000


def test_a_500_kb_event_is_parsed():
    text = "x" * 500_000
    post = parse_event(json.dumps({"article": {"timestamp": 1, "content": text}}))
    assert post.text == "x" * 200


def test_unicode_and_escaped_newlines_survive():
    data = json.dumps({"tweet": {"timestamp": 1, "content": "été 🌞 東京\nsecond line"}})
    assert parse_event(data).text == "été 🌞 東京\nsecond line"


def test_text_that_postgresql_cannot_store_is_cleaned():
    data = '{"tweet": {"timestamp": 1, "content": "a\\u0000b\\ud800c", "post_id": 12}}'
    post = parse_event(data)
    assert (post.text, post.post_id) == ("ab?c", "12")
