"""The SSE stream client shared by the collector and realtime analysis.

sseclient-py parses the event stream over a `requests` response; this module adds what a
long-lived consumer needs: timeouts, reconnection with exponential back-off and jitter,
`Last-Event-ID`, `retry:`, and an optional deadline that bounds every blocking read.
"""

from __future__ import annotations

import codecs
import logging
import random
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import requests
import sseclient
import urllib3
from django.conf import settings

logger = logging.getLogger(__name__)

READ_SIZE = 64 * 1024
# An empty line ends an event; a line ends with CRLF, LF or CR, and CR followed by LF is
# one ending, not two. Streams without CR are split on b"\n\n", faster than this pattern.
_BLANK_LINE = re.compile(rb"(?:\r\n|\r(?!\n)|\n)(?:\r\n|\r(?!\n)|\n)")
# What a broken connection raises, from requests, from urllib3 (the body is read from
# `response.raw`), or from the socket itself.
CONNECTION_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError, OSError)
TOO_LARGE = "too_large"  # the rejection reason of an event over max_event_bytes


@dataclass
class Backoff:
    """Exponential back-off with equal jitter: about 1 s, doubling to a 30 s cap."""

    base: float = 1.0
    cap: float = 30.0
    rng: random.Random = field(default_factory=random.Random)
    attempts: int = 0

    def next_delay(self) -> float:
        ceiling = min(self.cap, self.base * 2**self.attempts)
        self.attempts += 1
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    def reset(self) -> None:
        self.attempts = 0


class _SSEClient(sseclient.SSEClient):
    """sseclient-py's parser over a reader that is linear in the stream and bounded per event."""

    def __init__(
        self, event_source: Iterable[bytes], *, max_bytes: int, on_too_large: Callable[[], None]
    ) -> None:
        super().__init__(event_source)
        self.max_bytes = max_bytes
        self.on_too_large = on_too_large

    def _read(self) -> Iterator[bytes]:
        # The parent joins each chunk's lines one by one onto a growing bytes object, which is
        # quadratic in an event's size; here only a chunk's new bytes are searched for a blank
        # line, and the buffer is split once one ends an event, which keeps the reader off the
        # profile at 40,000 events/s. An event over max_bytes is dropped as it grows, up to the
        # blank line that ends it: what an upstream sends cannot grow the buffer past the
        # limit. Unlike the parent, drop a trailing event that the end of the stream cut short
        # (the SSE spec discards it), and decode invalid UTF-8 with replacement characters.
        pending = bytearray()
        skipping = cr = False  # skipping: inside an event over the limit
        for chunk in self._event_source:
            searched_to = max(0, len(pending) - 3)  # a blank line is at most 4 bytes
            pending += chunk
            cr = cr or b"\r" in chunk
            if not _ends_event(pending, searched_to, cr):
                if len(pending) > self.max_bytes:
                    skipping = skipping or self._too_large()
                    del pending[:-3]
                continue
            data = bytes(pending)
            events = _BLANK_LINE.split(data) if cr else data.split(b"\n\n")
            pending[:] = events.pop()
            if skipping:
                del events[0]  # the end of the event over the limit
            skipping = len(pending) > self.max_bytes and self._too_large()
            if skipping:
                del pending[:-3]
            if any(len(event) > self.max_bytes for event in events):
                events = [e for e in events if len(e) <= self.max_bytes or not self._too_large()]
            try:
                # One check for the whole chunk; final=False leaves a character that the
                # chunk cut in two to the next round, where it is whole.
                codecs.utf_8_decode(data, "strict", False)
            except UnicodeDecodeError:
                events = [event.decode("utf-8", "replace").encode("utf-8") for event in events]
            yield from events

    def events(self) -> Iterator[sseclient.Event]:
        # Nearly every event is one "data: " line: its Event is made here, as sseclient-py's
        # parser makes it, at a third of the cost (its parser was the collector's largest
        # share of CPU at full speed). Any other event (several lines, an id or a retry
        # field, a comment) goes through that parser.
        for chunk in self._read():
            if chunk.startswith(b"data: ") and b"\n" not in chunk and b"\r" not in chunk:
                yield sseclient.Event(data=chunk[6:].decode(self._char_enc))
            else:
                yield from sseclient.SSEClient([chunk + b"\n\n"], self._char_enc).events()

    def _too_large(self) -> bool:
        self.on_too_large()
        return True


def _ends_event(buffer: bytearray, start: int, cr: bool) -> bool:
    """Say whether a blank line ends in buffer[start:] (CR line endings only if `cr`)."""
    if cr:
        return _BLANK_LINE.search(buffer, start) is not None
    return buffer.find(b"\n\n", start) >= 0


class StreamReader:
    """Read SSE events from `url` forever (or until a deadline), reconnecting on failure."""

    def __init__(
        self,
        url: str,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        healthy_after: float = 30.0,
        backoff: Backoff | None = None,
        max_event_bytes: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`max_event_bytes`: larger events are discarded (default STREAM_MAX_EVENT_BYTES)."""
        self.url = url
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.healthy_after = healthy_after
        self.backoff = backoff or Backoff()
        self.clock = clock
        self.sleep = sleep
        self.session = requests.Session()
        self.stopped = False
        self.last_event_id: str | None = None
        self.connections = 0
        self.reconnects = 0
        # The latest back-off delays, oldest first; bounded, as a collector runs for months.
        self.delays: deque[float] = deque(maxlen=100)
        self.max_event_bytes = max_event_bytes or settings.STREAM_MAX_EVENT_BYTES
        self.too_large = 0  # events discarded for their size
        self._too_large_logged = float("-inf")

    def events(self, *, deadline: float | None = None) -> Iterator[sseclient.Event]:
        """Yield events until stop() or `deadline` (on `clock`), reconnecting as needed."""
        while not self._over(deadline):
            connected_at = self.clock()
            try:
                yield from self._connection_events(deadline)
            except CONNECTION_ERRORS as error:
                if not self._over(deadline):
                    logger.warning("stream %s failed: %s", self.url, error)
            else:
                if not self._over(deadline):
                    logger.warning("stream %s closed by the server", self.url)
            if self._over(deadline):
                return
            if self.clock() - connected_at >= self.healthy_after:
                self.backoff.reset()
            self.reconnects += 1
            self._wait(self.backoff.next_delay(), deadline)

    def stop(self) -> None:
        self.stopped = True

    def _over(self, deadline: float | None) -> bool:
        return self.stopped or (deadline is not None and self.clock() >= deadline)

    def _connection_events(self, deadline: float | None) -> Iterator[sseclient.Event]:
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        # Compression would make the server buffer; SSE wants every byte as it is written.
        headers["Accept-Encoding"] = "identity"
        if self.last_event_id is not None:
            headers["Last-Event-ID"] = self.last_event_id
        connect_timeout = self.connect_timeout
        if deadline is not None:
            connect_timeout = max(0.01, min(connect_timeout, deadline - self.clock()))
        response = self.session.get(
            self.url, headers=headers, stream=True, timeout=(connect_timeout, self.read_timeout)
        )
        try:
            response.raise_for_status()
            self.connections += 1
            events = _SSEClient(
                self._chunks(response, deadline),
                max_bytes=self.max_event_bytes,
                on_too_large=self._count_too_large,
            ).events()
            for event in events:
                if event.id:
                    self.last_event_id = event.id
                if event.retry and event.retry.isdigit():
                    self.backoff.base = int(event.retry) / 1000
                yield event
                if self._over(deadline):
                    return
        finally:
            response.close()

    def _count_too_large(self) -> None:
        self.too_large += 1
        if self.clock() - self._too_large_logged >= 1.0:  # at most a line a second
            self._too_large_logged = self.clock()
            logger.warning(
                "discarded an event over %d bytes from %s (%d so far)",
                self.max_event_bytes,
                self.url,
                self.too_large,
            )

    def _chunks(self, response: requests.Response, deadline: float | None) -> Iterator[bytes]:
        raw = response.raw
        while True:
            if deadline is not None:
                # Bound each blocking read by the deadline, so a silent stream ends on time.
                remaining = deadline - self.clock()
                if remaining <= 0:
                    return
                raw.connection.sock.settimeout(min(self.read_timeout, remaining))
            chunk = raw.read1(READ_SIZE)
            if not chunk:
                return
            yield chunk

    def _wait(self, delay: float, deadline: float | None) -> None:
        """Sleep `delay` seconds in slices of at most 1 s, ending early on stop or deadline."""
        self.delays.append(delay)
        logger.info("reconnecting to %s in %.1f s", self.url, delay)
        end = self.clock() + delay
        if deadline is not None:
            end = min(end, deadline)
        while not self.stopped and (remaining := end - self.clock()) > 0:
            self.sleep(min(1.0, remaining))
