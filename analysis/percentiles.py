"""The percentile definition: nearest rank, exactly PostgreSQL's percentile_disc."""

from __future__ import annotations

import math
from collections.abc import Sequence

# The fractions as PostgreSQL sees them in ARRAY[0.5, 0.9, 0.99]: the same float8 values,
# so ceil(fraction * n) below rounds exactly as percentile_disc does.
PERCENTILES = {"p50": 0.5, "p90": 0.9, "p99": 0.99}


def percentile_disc(sorted_values: Sequence[int], fraction: float) -> int:
    """Return the first value whose rank reaches fraction * n: v[ceil(fraction * n) - 1]."""
    if not sorted_values:
        raise ValueError("no values")
    rank = math.ceil(fraction * len(sorted_values))
    return sorted_values[max(rank, 1) - 1]


def percentiles(values: Sequence[int]) -> dict[str, int]:
    """Return {"p50": …, "p90": …, "p99": …} over values (in any order)."""
    ordered = sorted(values)
    return {name: percentile_disc(ordered, fraction) for name, fraction in PERCENTILES.items()}
