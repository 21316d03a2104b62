"""Realtime analysis: the live upstream stream, read once per process, counted per window.

Parsing is what costs: one thread per window, each parsing its own copy of the stream, falls
behind its socket when many windows are open (the GIL runs one parse at a time). So the
windows open at the same time on one URL share one connection, read by one thread that
parses each event once into a compact log; a window is the slice of that log between its
start and its deadline.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator
from typing import ClassVar, NamedTuple

from analysis import metrics
from analysis.percentiles import percentiles
from analysis.results import Analysis, NoDataError, Question, Window
from ingestion.parser import DIMENSIONS, ParsedPost, RejectedEvent, parse_event
from ingestion.stream import Backoff, StreamReader

NOT_CARRIED = -1  # a dimension's value in the log when the post does not carry it


class Summary(NamedTuple):
    """What a window needs of a run of posts: count, creation time range, sorted values."""

    posts: int
    minimum: int
    maximum: int
    carried: dict[str, list[int]]  # dimension -> sorted values of the posts that carry it


def unix_time(moment: float) -> float:
    """Return the wall-clock time of a time.monotonic() moment."""
    return time.time() - (time.monotonic() - moment)


class UpstreamUnavailableError(Exception):
    """The upstream could not be reached at all during the window."""

    def __init__(self, url: str, window: Window) -> None:
        super().__init__(url)
        self.window = window


class RealtimeBusyError(Exception):
    """Every realtime slot is taken."""


class RealtimeSlots:
    """The realtime windows open in this process, capped by the limit given at each entry."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open = 0

    @contextlib.contextmanager
    def slot(self, limit: int) -> Iterator[None]:
        """Hold a slot while the block runs; raise RealtimeBusyError if `limit` are held."""
        with self._lock:
            if self._open >= limit:
                raise RealtimeBusyError
            self._open += 1
        metrics.REALTIME_IN_USE.inc()
        try:
            yield
        finally:
            with self._lock:
                self._open -= 1
            metrics.REALTIME_IN_USE.dec()


SLOTS = RealtimeSlots()


class SharedStream:
    """One upstream connection per URL, shared by the realtime windows open on it.

    The first window to join opens it: a thread reads the stream with the collector's
    StreamReader (reconnecting inside the windows) and appends each post, parsed once, to a
    log of columns ordered by read time. The last window to leave stops the reader; its
    connection closes at the next event and a later window opens a new one.

    Windows ending together all analyse at once, and while they hold the GIL the reader
    falls behind its socket (posts read late miss their window). So every BLOCK posts the
    reader sums up the block once: a window sorts only its two partial blocks and merges the
    whole blocks' sorted runs, a few times cheaper than sorting every value it counts. And
    windows that end together share their whole blocks: the merge of a run of blocks is
    kept for the next window that asks for the same run (a few are kept, MERGES_KEPT).
    """

    BLOCK = 256
    MERGES_KEPT = 2 * len(DIMENSIONS)
    # Records read up to this long before the oldest open window's start are kept: a request
    # takes its start a moment before it joins, and must still find what was read meanwhile.
    TRIM_GRACE = 1.0

    _open: ClassVar[dict[str, SharedStream]] = {}
    _open_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, url: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.url = url
        self.clock = clock
        # A 1 s back-off cap: a cut must be retried inside windows as short as a few seconds.
        self.reader = StreamReader(url, clock=clock, backoff=Backoff(cap=1.0))
        self.lock = threading.Lock()
        self.starts: list[float] = []  # of the windows open on this stream
        self.read_at = array("d")
        self.created = array("q")
        self.values = {name: array("q") for name in DIMENSIONS}
        self.types = array("H")  # each post's type, as its index in type_codes
        self.type_codes: dict[str, int] = {}
        self.blocks: list[Summary] = []  # of the log's whole blocks, in order
        # (first block, last block + 1, dimension) as log positions -> the blocks' values merged
        self.merges: dict[tuple[int, int, str], list[int]] = {}
        self.dropped = 0  # records trimmed from the front: log position = dropped + index
        # The reader's (connections, reconnects) when it last read an event, see connected().
        self.seen = (0, -1)
        self.thread = threading.Thread(target=self.read, name=f"realtime {url}", daemon=True)

    @classmethod
    def join(
        cls, url: str, start: float, *, clock: Callable[[], float] = time.monotonic
    ) -> SharedStream:
        """Return the stream open on `url` (opening it if none is) with a window from `start`."""
        with cls._open_lock:
            stream = cls._open.get(url)
            if stream is None:
                stream = cls._open[url] = cls(url, clock=clock)
                stream.thread.start()
            with stream.lock:
                stream.starts.append(start)
        return stream

    def leave(self, start: float) -> None:
        """Forget the window from `start`; trim the log, or stop reading if it was the last."""
        with SharedStream._open_lock, self.lock:
            self.starts.remove(start)
            if self.starts:
                self._trim(min(min(self.starts), self.clock() - self.TRIM_GRACE))
                return
            del SharedStream._open[self.url]
        self.reader.stop()

    def read(self) -> None:
        """Parse each event once and log its post, until stopped (the reader thread's loop)."""
        reader = self.reader
        for event in reader.events():
            try:
                post = parse_event(event.data)
            except RejectedEvent:
                post = None
            with self.lock:
                self.seen = (reader.connections, reader.reconnects)
                if post is not None:
                    self._append(post)

    def connected(self) -> bool:
        """Say whether a connection is up now, from the reader's counters.

        `connections` counts connections made, `reconnects` attempts ended. The attempt that
        delivered the last event was up; one is up now if no attempt ended since, or if every
        attempt ended since was a connection and so is the current one. (A connection made
        after failed attempts is seen only when it delivers an event.)
        """
        with self.lock:
            connections, attempts = self.seen
            return self.reader.reconnects - attempts == self.reader.connections - connections

    def summaries(
        self, start: float, end: float, dimensions: tuple[str, ...], post_types: tuple[str, ...]
    ) -> tuple[range, list[Summary]]:
        """Return the log positions of the posts read in [start, end] and the summaries of
        those of `post_types` (all if none)."""
        with self.lock:
            first = bisect_left(self.read_at, start)
            last = bisect_right(self.read_at, end)
            whole = range(-(-first // self.BLOCK), last // self.BLOCK)
            if post_types:  # the blocks sum every type up: read the window's own posts
                parts = [self._summary(first, last, dimensions, post_types)]
            elif whole:
                parts = [
                    self._summary(first, whole.start * self.BLOCK, dimensions),
                    self._merged(whole, dimensions),
                    self._summary(whole.stop * self.BLOCK, last, dimensions),
                ]
            else:
                parts = [self._summary(first, last, dimensions)]
            positions = range(self.dropped + first, self.dropped + last)
        return positions, [part for part in parts if part.posts]

    def _append(self, post: ParsedPost) -> None:
        # Read time under the lock: a window that has counted sees no later record before it.
        self.read_at.append(self.clock())
        self.created.append(post.created_ts)
        self.types.append(self.type_codes.setdefault(post.post_type, len(self.type_codes)))
        for name, column in self.values.items():
            value = getattr(post, name)
            column.append(NOT_CARRIED if value is None else value)
        if (size := len(self.read_at)) % self.BLOCK == 0:
            self.blocks.append(self._summary(size - self.BLOCK, size, DIMENSIONS))

    def _merged(self, whole: range, dimensions: Iterable[str]) -> Summary:
        """Summarise the whole blocks `whole` as one, each dimension's values merged once."""
        blocks = self.blocks[whole.start : whole.stop]
        carried = {}
        for name in dimensions:
            key = (self.dropped + whole.start, self.dropped + whole.stop, name)
            merged = self.merges.get(key)
            if merged is None:
                # Sorting concatenated sorted runs is a merge: timsort finds the runs.
                merged = sorted(itertools.chain.from_iterable(b.carried[name] for b in blocks))
                self.merges[key] = merged
                if len(self.merges) > self.MERGES_KEPT:
                    del self.merges[next(iter(self.merges))]  # the oldest
            carried[name] = merged
        return Summary(
            sum(block.posts for block in blocks),
            min(block.minimum for block in blocks),
            max(block.maximum for block in blocks),
            carried,
        )

    def _summary(
        self, first: int, last: int, dimensions: Iterable[str], post_types: tuple[str, ...] = ()
    ) -> Summary:
        """Summarise the log's posts [first, last), or only those of `post_types` if any."""
        created = self.created[first:last]
        columns = {name: self.values[name][first:last] for name in dimensions}
        if post_types:
            codes = {self.type_codes[name] for name in post_types if name in self.type_codes}
            kept = [code in codes for code in self.types[first:last]]
            created = list(itertools.compress(created, kept))
            columns = {name: itertools.compress(column, kept) for name, column in columns.items()}
        if not created:
            return Summary(0, 0, 0, {})
        carried = {name: sorted(column) for name, column in columns.items()}
        return Summary(
            len(created),
            min(created),
            max(created),
            {name: ordered[bisect_left(ordered, 0) :] for name, ordered in carried.items()},
        )

    def _trim(self, before: float) -> None:
        """Drop the whole blocks read before `before`, so that blocks stay aligned."""
        blocks = bisect_left(self.read_at, before) // self.BLOCK
        if blocks:
            count = blocks * self.BLOCK
            for column in (self.read_at, self.created, self.types, *self.values.values()):
                del column[:count]
            del self.blocks[:blocks]
            self.dropped += count


class RealtimeWindow:
    """The posts read from `url` between `started` and started + duration, on a shared stream."""

    def __init__(
        self,
        url: str,
        question: Question,
        *,
        started: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url
        self.question = question
        # A window looks back no further than the log keeps records for a late joiner.
        self.started = max(started, clock() - SharedStream.TRIM_GRACE)
        self.deadline = self.started + question.duration.total_seconds()
        self.clock = clock
        self.sleep = sleep
        self.counted = range(0)  # log positions of the posts counted, once run

    @property
    def window(self) -> Window:
        return Window(unix_time(self.started), unix_time(self.deadline))

    def run(self) -> Analysis:
        """Wait for the deadline on the shared stream, then analyse what was read in between."""
        window = self.window
        stream = SharedStream.join(self.url, self.started, clock=self.clock)
        try:
            up_at_start = stream.connected()
            connections = stream.reader.connections
            while (remaining := self.deadline - self.clock()) > 0:
                self.sleep(remaining)
            question = self.question
            self.counted, parts = stream.summaries(
                self.started, self.deadline, question.dimensions, question.post_types
            )
            reached = up_at_start or stream.reader.connections > connections
        finally:
            stream.leave(self.started)
        if not parts and not reached:
            raise UpstreamUnavailableError(self.url, window)
        return self.analyse(parts, window)

    def analyse(self, parts: list[Summary], window: Window) -> Analysis:
        dimensions = self.question.dimensions
        if not any(part.carried[d] for part in parts for d in dimensions):
            raise NoDataError(dimensions, window)
        # percentiles() sorts each dimension's sorted runs once: timsort merges them.
        return Analysis(
            sum(part.posts for part in parts),
            min(part.minimum for part in parts),
            max(part.maximum for part in parts),
            {
                d: percentiles(
                    itertools.chain.from_iterable(p.carried[d] for p in parts),
                    self.question.percentiles,
                )
                for d in dimensions
            },
            window,
        )
