"""The one definition of a valid post (SPEC §2): raw SSE `data` → ParsedPost, or RejectedEvent."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import orjson

DIMENSIONS = ("likes", "comments", "favorites", "retweets")
# SPEC §2's known post types. The set is open: any other root key is a post type too.
POST_TYPES = (
    "instagram_media", "pin", "youtube_video", "tiktok_video", "tweet",
    "facebook_status", "article", "twitch_stream", "story",
)  # fmt: skip
TEXT_FIELDS = ("title", "text", "content", "description", "caption")
LINK_FIELDS = ("link", "links", "url", "permalink")
TEXT_LIMIT = 200
LINK_LIMIT = 500
TYPE_LIMIT = 64
INT64_MAX = 2**63 - 1
_NOT_METRICS = frozenset(("id", "timestamp", *DIMENSIONS))
# Every RejectedEvent.reason, in the order the checks run.
REJECTION_REASONS = (
    "invalid_json",
    "not_an_object",
    "no_root_key",
    "several_root_keys",
    "value_not_an_object",
    "missing_timestamp",
    "invalid_timestamp",
)


class RejectedEvent(Exception):  # noqa: N818 - it is an outcome, not a failure of the code
    """An event that is not a post; `reason` is a short stable label used in counters."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(slots=True)
class ParsedPost:
    """What parse_event reads from an event: a models.Post row but its id and arrival time."""

    post_type: str
    created_ts: int
    upstream_id: int | None = None
    post_id: str = ""
    likes: int | None = None
    comments: int | None = None
    favorites: int | None = None
    retweets: int | None = None
    metrics: dict[str, int] = field(default_factory=dict)
    text: str = ""
    link: str = ""


def as_count(value: object) -> int | None:
    """Return value as a non-negative int64 if it is one (integral floats count), else None."""
    if type(value) is int:
        return value if 0 <= value <= INT64_MAX else None
    if type(value) is float and value.is_integer() and 0 <= value <= INT64_MAX:
        return int(value)
    return None


# The only types as_count reads a count from: parse_event skips any other value unasked.
_NUMBERS = frozenset((int, float))


def _as_int64(value: object) -> int | None:
    if type(value) is float and value.is_integer():
        value = int(value)
    if type(value) is int and -INT64_MAX <= value <= INT64_MAX:
        return value
    return None


def _clean(value: object, limit: int) -> str:
    """Return a string PostgreSQL can store: truncated, without NUL or lone surrogates."""
    if type(value) is not str:
        value = "" if value is None or isinstance(value, (dict, list)) else str(value)
    if len(value) > limit:
        value = value[:limit]
    if "\x00" in value:
        value = value.replace("\x00", "")
    if not value.isascii():  # an ASCII string holds no surrogate: skip the check
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = value.encode("utf-8", "replace").decode("utf-8")
    return value


_NAMES: dict[str, str] = {}  # short names seen -> cleaned: a few recur in every post
_NAMES_KEPT = 1024


def _clean_name(name: str) -> str:
    """_clean for a post type or a metric's name, remembering the first _NAMES_KEPT short ones."""
    cleaned = _NAMES.get(name)
    if cleaned is None:
        cleaned = _clean(name, TYPE_LIMIT)
        if len(name) <= TYPE_LIMIT and len(_NAMES) < _NAMES_KEPT:
            _NAMES[name] = cleaned
    return cleaned


def _first_string(fields: dict, names: tuple[str, ...], limit: int) -> str:
    for name in names:
        value = fields.get(name)
        if isinstance(value, str) and (value := value.strip()):
            return _clean(value, limit)
    return ""


def _load(data: str) -> object:
    """Decode JSON with orjson (several times faster); let json decide what orjson refuses.

    orjson rejects some documents that json reads: NaN and Infinity, numbers beyond float
    or 64-bit range, lone surrogate escapes, nesting deeper than 1024. json.loads decides
    those, so every verdict is what it was with json alone (tests/test_parser.py).
    """
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as error:
        raise RejectedEvent("invalid_json", str(error)[:100]) from None


def parse_event(data: str) -> ParsedPost:
    """Parse one event's data into a ParsedPost, or raise RejectedEvent saying why it is not one."""
    document = _load(data)
    if not isinstance(document, dict):
        raise RejectedEvent("not_an_object", type(document).__name__)
    if len(document) != 1:
        raise RejectedEvent("no_root_key" if not document else "several_root_keys")
    ((post_type, fields),) = document.items()
    if not isinstance(fields, dict):
        raise RejectedEvent("value_not_an_object", type(fields).__name__)
    if "timestamp" not in fields:
        raise RejectedEvent("missing_timestamp")
    created_ts = _as_int64(fields["timestamp"])
    if created_ts is None:
        raise RejectedEvent("invalid_timestamp", repr(fields["timestamp"])[:40])

    metrics = {}
    for name, value in fields.items():
        # Only a number can be a count: texts, links and flags are skipped before any call.
        if type(value) not in _NUMBERS or name in _NOT_METRICS or "\x00" in name:
            continue
        if (count := as_count(value)) is not None:
            metrics[_clean_name(name)] = count
    return ParsedPost(
        post_type=_clean_name(post_type),
        created_ts=created_ts,
        upstream_id=_as_int64(fields.get("id")),
        post_id=_clean(fields.get("post_id"), TYPE_LIMIT),
        likes=as_count(fields.get("likes")),
        comments=as_count(fields.get("comments")),
        favorites=as_count(fields.get("favorites")),
        retweets=as_count(fields.get("retweets")),
        metrics=metrics,
        text=_first_string(fields, TEXT_FIELDS, TEXT_LIMIT),
        link=_first_string(fields, LINK_FIELDS, LINK_LIMIT),
    )
