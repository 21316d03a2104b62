from __future__ import annotations

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.percentiles import percentile_disc, percentiles

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
