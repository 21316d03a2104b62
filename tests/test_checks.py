from __future__ import annotations

from datetime import timedelta

import pytest

from ingestion.checks import check_partition_interval

VALID = [timedelta(minutes=1), timedelta(minutes=15), timedelta(hours=1), timedelta(hours=2)]
INVALID = [timedelta(seconds=30), timedelta(minutes=7), timedelta(hours=5), timedelta(hours=25)]


@pytest.mark.parametrize("interval", VALID)
def test_a_partition_interval_that_divides_a_day_passes(settings, interval):
    settings.PARTITION_INTERVAL = interval
    assert check_partition_interval(None) == []


@pytest.mark.parametrize("interval", INVALID)
def test_any_other_partition_interval_is_an_ingestion_error(settings, interval):
    settings.PARTITION_INTERVAL = interval
    (error,) = check_partition_interval(None)
    assert error.id == "ingestion.E001"
    assert "must be at least 1m and divide a day" in error.msg
