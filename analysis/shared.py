"""Identical historical requests running at the same time share one computation.

Under a crowd, many clients ask the same question within the same few milliseconds;
computing it once per request makes the database the bottleneck. The first request
computes, and those arriving while it runs wait for its result instead of starting their
own. The shared answer carries its own Window, whose end is the `now` it was computed
for, and the response states that window: a request that joined
gets a window ending at most one computation's time before it arrived. Nothing is kept
once the computation ends: the next request computes afresh.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from datetime import datetime
from typing import TypeVar

from django.utils import timezone

from analysis.historical import post_percentiles
from analysis.results import Analysis, Question

T = TypeVar("T")


class SingleFlight:
    """Run at most one computation per key at a time; callers of a running one share it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[Hashable, Future] = {}

    def run(self, key: Hashable, compute: Callable[[], T]) -> T:
        """Return compute()'s result (or raise its error), shared with concurrent callers."""
        with self._lock:
            future = self._running.get(key)
            leading = future is None
            if leading:
                future = self._running[key] = Future()
        if leading:
            try:
                future.set_result(compute())
            except BaseException as error:  # every waiter must be woken, whatever happened
                future.set_exception(error)
            finally:
                with self._lock:
                    del self._running[key]
        return future.result()


_HISTORICAL = SingleFlight()


def shared_post_percentiles(
    question: Question, *, clock: Callable[[], datetime] | None = None
) -> Analysis:
    """post_percentiles of the window ending now, or of a running identical computation.

    The clock defaults to timezone.now looked up at each call, not bound at import.
    """
    return _HISTORICAL.run(
        question, lambda: post_percentiles(question, now=(clock or timezone.now)())
    )
