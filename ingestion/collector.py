"""The collector: read the stream into a bounded buffer, flush it to PostgreSQL in batches.

Two threads: a reader thread parses events into the buffer (ingestion/buffer.py) and never
waits for the database; the calling thread runs the loop below, flushing every
`flush_interval` (or sooner when a batch is full). A database outage therefore only grows
the buffer, and shutdown, signals and leadership are all handled in one place, between
flushes.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from django.db import DatabaseError, InterfaceError, close_old_connections, connection

from ingestion import metrics
from ingestion.buffer import PostBuffer
from ingestion.health import HEARTBEAT_INTERVAL
from ingestion.leader import LeaderLock
from ingestion.parser import RejectedEvent, parse_event
from ingestion.partitions import ensure_partitions, partition_start
from ingestion.services import collector_heartbeat, posts_ingest
from ingestion.stream import TOO_LARGE, StreamReader

logger = logging.getLogger(__name__)

# The defaults of collect_stream's options.
BATCH_SIZE = 5000  # posts per COPY at most
FLUSH_INTERVAL = 0.25  # seconds: a post is queryable well within 1 s of arrival
BUFFER_LIMIT = 200_000  # posts buffered through a database outage before dropping
PROGRESS_INTERVAL = 10.0  # seconds between progress lines


def utc_now() -> datetime:
    return datetime.now(UTC)


class StreamCollector:
    """Ingest the stream while holding the leader lock; otherwise wait as a hot standby."""

    def __init__(
        self,
        new_reader: Callable[[], StreamReader],
        *,
        batch_size: int = BATCH_SIZE,
        flush_interval: float = FLUSH_INTERVAL,
        buffer_limit: int = BUFFER_LIMIT,
        progress_interval: float = PROGRESS_INTERVAL,
        standby_poll: float = 1.0,
        now: Callable[[], datetime] = utc_now,
        lock: LeaderLock | None = None,
    ) -> None:
        self.new_reader = new_reader
        self.flush_interval = flush_interval
        self.progress_interval = progress_interval
        self.standby_poll = standby_poll
        self.now = now
        self.lock = lock or LeaderLock()
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.shutdown = False
        self.leading = False
        self.reader: StreamReader | None = None
        self.buffer = PostBuffer(limit=buffer_limit, batch_size=batch_size)
        self._partitions_current: datetime | None = None
        self._flush_failures = 0
        self._retry_at = 0.0
        self._last_rejection_log = 0.0
        self.ingested = 0
        self.rejected: Counter[str] = Counter()
        self.last_lag = 0.0
        self._reconnects_counted = 0
        self._too_large_counted = 0
        self._last_flush = 0.0
        self._progress = (time.monotonic(), 0)

    # --- the loop ------------------------------------------------------------------

    def run(self) -> None:
        """Alternate between standby and leading until shutdown; flush before returning."""
        try:
            while not self.shutdown:
                if not self.wait_for_leadership():
                    break
                self.lead()
        finally:
            self.lock.release()
            connection.close()

    def request_shutdown(self) -> None:
        # Only a flag: this runs in signal handlers, which must not take a lock that the
        # interrupted code may hold (Event.set() here once deadlocked with Event.wait()).
        self.shutdown = True

    def wait_for_leadership(self) -> bool:
        """Poll the leader lock until it is ours (True) or shutdown is requested (False)."""
        announced = False
        while not self.shutdown:
            if self.lock.try_acquire():
                logger.info("leader lock acquired: ingesting")
                return True
            if not announced:
                logger.info("another collector holds the leader lock: waiting as standby")
                announced = True
            time.sleep(self.standby_poll)
        return False

    def lead(self) -> None:
        """Ingest until shutdown or until the lock is lost, then flush what is buffered."""
        self.leading = True
        metrics.LEADING.set(1)
        self.buffer.open()
        self.reader = self.new_reader()
        self._reconnects_counted = self._too_large_counted = 0  # a new reader counts from 0
        thread = threading.Thread(target=self.read_forever, args=(self.reader,), daemon=True)
        thread.start()
        next_check = 0.0
        while not self.shutdown:
            self.run_once()
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + HEARTBEAT_INTERVAL.total_seconds()
                if not self.lock.still_ours():
                    logger.warning("leader lock lost: going back to standby")
                    break
                self.beat()
        self.reader.stop()
        self.buffer.close()
        self.flush_remaining()
        self.count_reader_events(self.reader)
        self.leading = False
        metrics.LEADING.set(0)

    def run_once(self) -> bool:
        """Wait for a full batch or the flush interval, then flush; return the flush result."""
        due = self._last_flush + self.flush_interval
        # Wait in short slices: a signal handler only sets self.shutdown.
        while not self.shutdown and (left := due - time.monotonic()) > 0:
            if self.buffer.batch_ready.wait(min(left, 0.25)):
                break
        self.buffer.batch_ready.clear()
        self._last_flush = time.monotonic()
        if time.monotonic() < self._retry_at:
            return False
        flushed = self.flush()
        if self.reader:
            self.count_reader_events(self.reader)
        self.log_progress()
        return flushed

    def count_reader_events(self, reader: StreamReader) -> None:
        """Add the reader's reconnects and discarded oversized events to the counters."""
        if reader.reconnects > self._reconnects_counted:
            metrics.RECONNECTS.inc(reader.reconnects - self._reconnects_counted)
            self._reconnects_counted = reader.reconnects
        if (new := reader.too_large - self._too_large_counted) > 0:
            self.rejected[TOO_LARGE] += new
            metrics.EVENTS_REJECTED.labels(TOO_LARGE).inc(new)
            self._too_large_counted = reader.too_large

    def read_forever(self, reader: StreamReader) -> None:
        for event in reader.events():
            self.handle_event(event.data)
            # Through a database outage the buffer takes the backlog instead, up to its limit.
            if not self._flush_failures:
                self.buffer.hold_back()

    # --- steps ---------------------------------------------------------------------

    def handle_event(self, data: str) -> bool:
        """Parse one event into the buffer; return whether it was a post that was kept."""
        arrived_at = self.now()
        try:
            post = parse_event(data)
        except RejectedEvent as rejection:
            self.rejected[rejection.reason] += 1
            metrics.EVENTS_REJECTED.labels(rejection.reason).inc()
            self._log_rejection(rejection, data)
            return False
        return self.buffer.put(arrived_at, post)

    def flush(self) -> bool:
        """Write the buffered posts in one COPY; on a database error keep them and back off."""
        batch = self.buffer.take()
        if not batch:
            return True
        started = time.monotonic()
        try:
            close_old_connections()
            self._ensure_partitions(batch[0][0], batch[-1][0])
            posts_ingest(posts=batch)
        except (DatabaseError, InterfaceError) as error:
            self.buffer.give_back(batch)
            self._flush_failed(error)
            return False
        finally:
            metrics.BUFFERED.set(len(self.buffer))
            metrics.BUFFER_FILL.set(len(self.buffer) / self.buffer.limit)
        metrics.FLUSH_SECONDS.observe(time.monotonic() - started)
        metrics.BATCH_SIZE.observe(len(batch))
        metrics.POSTS_INGESTED.inc(len(batch))
        self.last_lag = (self.now() - batch[0][0]).total_seconds()
        metrics.INGEST_LAG.set(self.last_lag)
        self.ingested += len(batch)
        if self._flush_failures:
            logger.info("database reachable again after %d failed flushes", self._flush_failures)
        self._flush_failures = 0
        self._retry_at = 0.0
        return True

    def flush_remaining(self) -> None:
        """Flush what is buffered, retrying a few times if the database is away."""
        for attempt in range(5):
            if self.flush() and not self.buffer:
                return
            time.sleep(min(2.0, 0.2 * 2**attempt))
        if self.buffer:
            logger.error("%d posts not written: database unreachable", len(self.buffer))

    def beat(self) -> bool:
        """Record the heartbeat /readyz looks at; a database outage only skips it."""
        try:
            collector_heartbeat(collector=self.name, now=self.now(), ingested=self.ingested)
        except (DatabaseError, InterfaceError):
            return False
        return True

    def log_progress(self) -> None:
        started, ingested_then = self._progress
        elapsed = time.monotonic() - started
        if elapsed < self.progress_interval:
            return
        self._progress = (time.monotonic(), self.ingested)
        rejected = ", ".join(f"{reason}={n}" for reason, n in sorted(self.rejected.items()))
        logger.info(
            "ingested %d posts (%.1f/s), rejected %d (%s), dropped %d, buffered %d,"
            " reconnects %d, lag %.2f s",
            self.ingested,
            (self.ingested - ingested_then) / max(elapsed, 1e-9),
            sum(self.rejected.values()),
            rejected or "none",
            self.buffer.dropped,
            len(self.buffer),
            self.reader.reconnects if self.reader else 0,
            self.last_lag,
        )

    def summary(self) -> str:
        return (
            f"ingested {self.ingested} posts, rejected {sum(self.rejected.values())},"
            f" dropped {self.buffer.dropped}, unwritten {len(self.buffer)}"
        )

    # --- helpers -------------------------------------------------------------------

    def _ensure_partitions(self, first: datetime, last: datetime) -> None:
        """Create partitions for the batch's arrivals and two hours ahead, once per partition."""
        current = partition_start(last)
        if current != self._partitions_current:
            created = ensure_partitions(now=first, ahead=last - first + timedelta(hours=2))
            if created:
                logger.info("created partitions %s", ", ".join(created))
            self._partitions_current = current

    def _flush_failed(self, error: Exception) -> None:
        self._flush_failures += 1
        self._partitions_current = None
        delay = min(10.0, 0.5 * 2 ** min(self._flush_failures - 1, 5))
        self._retry_at = time.monotonic() + delay
        logger.warning(
            "flush failed (%s); %d posts kept, retrying in %.1f s",
            str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__,
            len(self.buffer),
            delay,
        )
        # A broken connection must not be reused; the next flush opens a new one.
        connection.close()

    def _log_rejection(self, rejection: RejectedEvent, data: str) -> None:
        if time.monotonic() - self._last_rejection_log >= 1.0:
            self._last_rejection_log = time.monotonic()
            logger.warning("rejected event (%s): %.120r", rejection, data)
