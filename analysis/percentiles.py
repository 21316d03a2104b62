"""The percentile definition: nearest rank, exactly PostgreSQL's percentile_disc.

A percentile is asked for as a decimal p in (0, 100] with at most 3 fraction digits.
PostgreSQL reads the fraction p/100 as the float8 nearest to that decimal (99.9 -> 0.999,
not the float 99.9 / 100 = 0.9990000000000001, which can move a rank by one), and the rank
of the answer among n sorted values is ceil(fraction * n) in float8, at least 1. Both modes
use rank() below; the historical reference statement sends the same fractions to SQL.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

MAX_FRACTION_DIGITS = 3
_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")


@dataclass(frozen=True, slots=True)
class Percentile:
    """A requested percentile: its name in answers ("p99.9") and its fraction (0.999)."""

    name: str
    fraction: float

    @classmethod
    def parse(cls, text: str) -> Percentile:
        """Read "95", "99.9" or "99.90"; raise ValueError saying what is accepted."""
        if not _DECIMAL.fullmatch(text):
            raise ValueError(f'"{text}" is not a decimal number such as 95 or 99.9')
        value = Decimal(text)
        if not 0 < value <= 100:
            raise ValueError(f'"{text}" is out of range: use a number above 0, up to 100')
        if -value.normalize().as_tuple().exponent > MAX_FRACTION_DIGITS:
            raise ValueError(f'"{text}" has more than {MAX_FRACTION_DIGITS} fraction digits')
        return cls(f"p{value.normalize():f}", float(value / 100))


DEFAULT_PERCENTILES = tuple(Percentile.parse(p) for p in ("50", "90", "99"))


def rank(fraction: float, count: int) -> int:
    """Return percentile_disc's 1-based rank of `fraction` among `count` sorted values."""
    return max(math.ceil(fraction * count), 1)


def percentile_disc(sorted_values: Sequence[int], fraction: float) -> int:
    """Return the first value whose rank reaches fraction * n: v[rank - 1]."""
    if not sorted_values:
        raise ValueError("no values")
    return sorted_values[rank(fraction, len(sorted_values)) - 1]


def percentiles(
    values: Iterable[int], requested: Iterable[Percentile] = DEFAULT_PERCENTILES
) -> dict[str, int | None]:
    """Return {"p50": …, …}: each requested percentile of values (in any order), all None
    when there is no value (no post of the window carries the dimension)."""
    ordered = sorted(values)
    return {p.name: percentile_disc(ordered, p.fraction) if ordered else None for p in requested}
