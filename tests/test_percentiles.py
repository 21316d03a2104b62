from __future__ import annotations

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.percentiles import Percentile, percentile_disc, percentiles

pytestmark = pytest.mark.django_db

INT64 = st.integers(min_value=0, max_value=2**63 - 1)
VALUES = st.one_of(
    st.lists(INT64, max_size=3),
    st.lists(st.integers(0, 20), min_size=1, max_size=300),  # many duplicates
    st.lists(st.sampled_from([0, 1, 2**53, 2**53 + 1, 2**63 - 1]), min_size=1, max_size=50),
    st.lists(INT64, min_size=1, max_size=2000),
)


def postgres_percentiles(values: list[int]) -> list[int] | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT percentile_disc(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY v)"
            " FROM unnest(%s::bigint[]) AS v",
            [values],
        )
        return cursor.fetchone()[0]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(VALUES)
def test_python_percentiles_equal_postgresql_percentile_disc(values):
    expected = postgres_percentiles(values)
    if not values:
        assert expected is None
        with pytest.raises(ValueError):
            percentile_disc([], 0.5)
        return
    assert list(percentiles(values).values()) == expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([7], [7, 7, 7]),
        ([1, 2], [1, 2, 2]),
        (list(range(1, 11)), [5, 9, 10]),
        (list(range(1, 101)), [50, 90, 99]),
        (list(range(1, 1001)), [500, 900, 990]),
        ([2**53, 0, 2**53 + 1], [2**53, 2**53 + 1, 2**53 + 1]),
    ],
)
def test_nearest_rank_examples(values, expected):
    assert list(percentiles(values).values()) == expected


@pytest.mark.parametrize(
    ("text", "name", "fraction"),
    [
        ("50", "p50", 0.5),
        ("99.9", "p99.9", 0.999),
        ("99.90", "p99.9", 0.999),
        ("100", "p100", 1.0),
        ("100.000", "p100", 1.0),
        ("0.001", "p0.001", 0.00001),
        ("7", "p7", 0.07),
    ],
)
def test_a_percentile_is_read_as_its_decimal(text, name, fraction):
    assert Percentile.parse(text) == Percentile(name, fraction)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("0", "out of range"),
        ("100.001", "out of range"),
        ("99.9999", "more than 3 fraction digits"),
        ("1e2", "not a decimal number"),
        ("-5", "not a decimal number"),
        (" 5", "not a decimal number"),
        ("", "not a decimal number"),
        ("NaN", "not a decimal number"),
    ],
)
def test_a_percentile_out_of_the_rules_is_refused(text, error):
    with pytest.raises(ValueError, match=error):
        Percentile.parse(text)


DECIMALS = st.builds(
    lambda whole, fraction: f"{whole}.{fraction:03d}" if whole < 100 else "100",
    st.integers(0, 100),
    st.integers(0, 999),
).filter(lambda text: float(text) > 0)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(DECIMALS, min_size=1, max_size=10, unique=True),
    st.lists(INT64, min_size=1, max_size=2000),
)
def test_any_percentile_equals_postgresql_reading_the_decimal(texts, values):
    requested = [Percentile.parse(text) for text in texts]
    with connection.cursor() as cursor:
        literal = ", ".join(f"{text}::numeric / 100" for text in texts)  # generated decimals
        cursor.execute(
            f"SELECT percentile_disc(ARRAY[{literal}]::float8[]) WITHIN GROUP (ORDER BY v)"
            " FROM unnest(%s::bigint[]) AS v",
            [values],
        )
        expected = cursor.fetchone()[0]
    assert list(percentiles(values, requested).values()) == expected
