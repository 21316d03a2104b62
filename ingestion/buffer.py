"""The collector's bounded buffer: parsed posts on their way from the reader to the writer.

The reader thread put()s each post; the writer take()s everything at once and gives a
batch back when the database refused it. Full, the buffer drops posts and counts them;
closed (between two leading terms), it refuses them. While the writer keeps up, the reader
waits at two batches (hold_back) instead of filling memory.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from ingestion import metrics
from ingestion.parser import ParsedPost

logger = logging.getLogger(__name__)


class PostBuffer:
    """A thread-safe list of at most `limit` (arrival time, post) pairs, oldest first."""

    def __init__(self, *, limit: int, batch_size: int) -> None:
        self.limit = limit
        self.batch_size = batch_size
        self.dropped = 0
        self.batch_ready = threading.Event()  # a full batch waits: the writer need not
        self._pairs: list[tuple[datetime, ParsedPost]] = []
        self._lock = threading.Lock()
        self._taken = threading.Event()  # the held-back reader waits on it
        self._open = True

    def __len__(self) -> int:
        return len(self._pairs)

    def open(self) -> None:
        with self._lock:
            self._open = True

    def close(self) -> None:
        """Refuse posts until open(): the reader may still hand over one it was reading."""
        with self._lock:
            self._open = False

    def put(self, arrived_at: datetime, post: ParsedPost) -> bool:
        """Append a post; return False when it is refused (closed) or dropped (full)."""
        with self._lock:
            if not self._open:
                return False
            if len(self._pairs) >= self.limit:
                self.dropped += 1
                metrics.POSTS_DROPPED.inc()
                if self.dropped in (1, 10, 100) or self.dropped % 1000 == 0:
                    logger.error("buffer full: %d posts dropped so far", self.dropped)
                return False
            self._pairs.append((arrived_at, post))
            # Once: setting an Event takes its condition's lock, a cost per post otherwise.
            if len(self._pairs) >= self.batch_size and not self.batch_ready.is_set():
                self.batch_ready.set()
        return True

    def take(self) -> list[tuple[datetime, ParsedPost]]:
        """Remove and return every pair."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
        self._taken.set()
        return pairs

    def give_back(self, pairs: list[tuple[datetime, ParsedPost]]) -> None:
        """Return pairs a failed write took, ahead of those put since."""
        with self._lock:
            self._pairs[:0] = pairs

    def hold_back(self, timeout: float = 1.0) -> None:
        """While two batches wait, block the reader until the next take (at most `timeout`).

        The writer is behind but healthy: the backlog stays in the socket (TCP backpressure
        on the upstream), not in memory. The collector skips this during a database outage,
        when the buffer takes the backlog instead, up to its limit.
        """
        if len(self._pairs) >= 2 * self.batch_size:
            self._taken.wait(timeout)
            self._taken.clear()
