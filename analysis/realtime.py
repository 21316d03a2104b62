"""Realtime analysis: a fresh upstream connection, read until the window's deadline."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

from analysis import metrics
from analysis.percentiles import percentiles
from analysis.results import Analysis, NoDataError
from ingestion.parser import RejectedEvent, parse_event
from ingestion.stream import StreamReader


class UpstreamUnavailableError(Exception):
    """The upstream could not be reached at all during the window."""


class RealtimeBusyError(Exception):
    """Every realtime slot is taken."""


class RealtimeSlots:
    """A process-wide cap on concurrent realtime windows (each holds an upstream connection)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._semaphore = threading.BoundedSemaphore(limit)
        self._lock = threading.Lock()
        self.in_use = 0

    def __enter__(self) -> RealtimeSlots:
        if not self._semaphore.acquire(blocking=False):
            raise RealtimeBusyError
        with self._lock:
            self.in_use += 1
        metrics.REALTIME_IN_USE.inc()
        return self

    def __exit__(self, *exc_info) -> None:
        with self._lock:
            self.in_use -= 1
        metrics.REALTIME_IN_USE.dec()
        self._semaphore.release()


class RealtimeWindow:
    """Collect the posts read from `url` between start and start + duration."""

    def __init__(
        self,
        url: str,
        *,
        dimension: str,
        duration: timedelta,
        started: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.dimension = dimension
        self.deadline = started + duration.total_seconds()
        self.clock = clock
        self.reader = StreamReader(url, clock=clock)
        self.handled = 0
        self.timestamps: list[int] = []
        self.values: list[int] = []

    def run(self) -> Analysis:
        """Read until the deadline (the reader closes its connection), then analyse."""
        for event in self.reader.events(deadline=self.deadline):
            if self.clock() > self.deadline:
                break  # read after the deadline: not in the window
            self.handle_event(event.data)
        if self.reader.connections == 0:
            raise UpstreamUnavailableError(self.reader.url)
        return self.result()

    def handle_event(self, data: str) -> None:
        self.handled += 1
        try:
            post = parse_event(data)
        except RejectedEvent:
            return
        self.timestamps.append(post.created_ts)
        value = getattr(post, self.dimension)
        if value is not None:
            self.values.append(value)

    def result(self) -> Analysis:
        if not self.values:
            raise NoDataError(self.dimension)
        p = percentiles(self.values)
        return Analysis(
            self.dimension,
            len(self.timestamps),
            min(self.timestamps),
            max(self.timestamps),
            p["p50"],
            p["p90"],
            p["p99"],
        )
