"""Go duration syntax ("1h30m", "1.5s", "250ms"), the one format for every duration."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

MAX_LENGTH = 64
MAX_NANOSECONDS = 2**63 - 1  # Go's limit: a duration is an int64 of nanoseconds

# Nanoseconds per unit, as in Go's time.ParseDuration (both micro signs are accepted).
UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_TERM = re.compile(r"([0-9]+\.?[0-9]*|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(text: str) -> timedelta:
    """Parse a Go duration such as "90s" or "1h30m" into a timedelta (sub-µs truncated).

    Raise ValueError with a message meant for a person. Signs are not accepted: a
    duration here is always a positive window length.
    """
    if len(text) > MAX_LENGTH:
        raise ValueError(f"is longer than {MAX_LENGTH} characters")
    if text == "":
        raise ValueError("is empty")
    nanoseconds = Decimal(0)
    position = 0
    while position < len(text):
        match = _TERM.match(text, position)
        if match is None:
            raise ValueError(
                f"{text!r} is not a duration: use numbers with units, e.g. 5s, 90s, 10m, 1h30m"
            )
        nanoseconds += Decimal(match[1]) * UNITS[match[2]]
        position = match.end()
    if nanoseconds > MAX_NANOSECONDS:
        raise ValueError(f"{text!r} is longer than Go allows (about 2562047h)")
    return timedelta(microseconds=int(nanoseconds) // 1000)


def format_duration(value: timedelta) -> str:
    """Format a timedelta in Go syntax, e.g. 1h30m0s or 5s."""
    microseconds = value // timedelta(microseconds=1)
    hours, rest = divmod(microseconds, 3_600_000_000)
    minutes, rest = divmod(rest, 60_000_000)
    seconds = Decimal(rest) / 1_000_000
    text = f"{seconds.normalize():f}s"
    if hours:
        return f"{hours}h{minutes}m{text}"
    if minutes:
        return f"{minutes}m{text}"
    return text
