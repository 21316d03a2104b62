"""A local stand-in for the upstream SSE stream of posts (SPEC §2): demo, tests, benchmarks."""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import math
import random
import re
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TextIO
from urllib.parse import urlsplit

from ingestion.parser import POST_TYPES

logger = logging.getLogger(__name__)

# type -> (numeric fields, text fields, link field), after the table in SPEC §2.
FIELDS_BY_TYPE: dict[str, tuple[tuple[str, ...], tuple[str, ...], str]] = {
    "instagram_media": (("likes", "comments", "views", "plays"), ("text",), "link"),
    "pin": (("likes", "comments", "saves", "repins"), ("title", "description"), "links"),
    "youtube_video": (("views", "likes", "dislikes", "comments"), ("title", "description"), "link"),
    "tiktok_video": (("likes", "comments", "plays", "shares"), ("text",), "link"),
    "tweet": (("favorites", "retweets", "comments"), ("content",), "link"),
    "facebook_status": (("likes", "comments", "shares"), ("content",), "link"),
    "article": ((), ("title", "content"), "url"),
    "twitch_stream": (("avg_viewers", "peak_viewers"), ("title",), "link"),
    "story": (("likes", "comments", "views"), ("text",), "link"),
}
# POST_TYPES' shares of the stream in percent, cumulated for rng.choices.
_TYPE_WEIGHTS = tuple(itertools.accumulate((20, 8, 8, 12, 25, 8, 6, 3, 10)))
# Median of each metric is about e**mu; sigma 2.2 gives the long tail seen upstream.
_MU = {"views": 6.0, "plays": 6.0, "likes": 3.5, "favorites": 3.5, "comments": 1.0}
_ODD_VALUES = ("12", None, -3, 3.5, True)  # present, but not carried (SPEC §2)
_PHRASES = (
    "Wishing for summer", "café au lait ☕", "東京の夜景 🌃", "naïve résumé", "¡Qué día! 🎉",
    "новый пост", "🔥🔥🔥", "사랑해요 💕", "link in bio 👇", "crème brûlée 🍮", "#ootd",
    "Señor Müller's façade", "今日はいい天気", "😂 so true", "new video out now", "",
    "first line\u2028second line", "paragraph one\u2029paragraph two", "مرحبا بالعالم",
)  # fmt: skip
# Upstream payloads are 300 to 800 bytes of UTF-8: a post's text is padded into that range.
PAYLOAD_BYTES = (300, 800)
MALFORMED_KINDS = (
    "broken_json", "list", "number", "empty_object", "two_root_keys", "value_not_an_object",
    "missing_timestamp", "string_timestamp", "boolean_timestamp", "fractional_timestamp",
)  # fmt: skip
BATCH = 300  # events per chunk at full speed: big enough to amortise the syscall
TICK = 0.005  # seconds between writes of a paced stream, at most
_TIMESTAMP = re.compile(r'"timestamp":(-?[0-9]+)[,}]')
_DUMP = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@dataclass(frozen=True, slots=True)
class SentEvent:
    connection: int
    sent_at: float
    event_id: str | None
    data: str
    valid: bool
    complete: bool


class EventGenerator:
    """Make realistic event payloads, every Nth one malformed, reproducibly for a seed."""

    def __init__(
        self,
        *,
        seed: int | None = None,
        malformed_every: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.random = random.Random(seed)
        self.clock = clock
        self.malformed_every = malformed_every
        self.count = 0
        self.malformed = 0

    def next_data(self) -> tuple[str, bool]:
        """Return the JSON text of the next event and whether it is a valid post."""
        self.count += 1
        if self.malformed_every > 0 and self.count % self.malformed_every == 0:
            kind = MALFORMED_KINDS[self.malformed % len(MALFORMED_KINDS)]
            self.malformed += 1
            return self.malformed_data(kind), False
        post_type, fields = self.post()
        return _DUMP({post_type: fields}), True

    def post(self) -> tuple[str, dict]:
        """Return a random post type and its fields."""
        rng = self.random
        post_type = rng.choices(POST_TYPES, cum_weights=_TYPE_WEIGHTS)[0]
        numeric, texts, link = FIELDS_BY_TYPE[post_type]
        post_id = str(rng.randrange(10**17, 10**19))
        fields: dict[str, object] = {"id": rng.randrange(1, 2**31)}
        for name in texts:
            fields[name] = self.text()
        fields[link] = f"https://example.com/{post_type}/{post_id}"
        if post_type == "story":
            numeric = tuple(name for name in numeric if rng.random() < 0.6)
        elif post_type == "article" and rng.random() < 0.1:
            numeric = ("comments",)
        for name in numeric:
            fields[name] = self.metric(name)
        if post_type == "tweet":
            fields["is_retweet"] = rng.random() < 0.3
        if numeric and rng.random() < 0.06:
            self.oddity(fields, rng.choice(numeric))
        fields["timestamp"] = int(self.clock()) - rng.randint(0, 600)
        fields["post_id"] = post_id
        self.pad(post_type, fields, texts[-1] if texts else link)
        return post_type, fields

    def pad(self, post_type: str, fields: dict, name: str) -> None:
        """Lengthen the text fields[name] with phrases until the payload is 300 to 800 bytes."""
        size = len(_DUMP({post_type: fields}).encode())
        target = self.random.randint(*PAYLOAD_BYTES)
        text = fields[name]
        while size < target:
            # Phrases hold nothing JSON escapes: each adds its UTF-8 bytes and a space.
            phrase = self.random.choice(_PHRASES[:-1])
            text += " " + phrase
            size += len(phrase.encode()) + 1
        while size > PAYLOAD_BYTES[1]:  # the last phrase went past the top
            size -= len(text[-1].encode())
            text = text[:-1]
        fields[name] = text

    def metric(self, name: str) -> int:
        """Return a heavy-tailed count: many zeros, mostly small, rarely 10**6 to 10**8."""
        rng = self.random
        draw = rng.random()
        if draw < 0.25:
            return 0
        if draw < 0.2505:
            return int(10 ** rng.uniform(6, 8))
        return int(rng.lognormvariate(_MU.get(name, 2.0), 2.2))

    def text(self) -> str:
        """Return a short text with unicode, sometimes over several lines."""
        rng = self.random
        separator = "\n" if rng.random() < 0.05 else " "
        return separator.join(rng.sample(_PHRASES, rng.randint(1, 4))).strip()

    def oddity(self, fields: dict, name: str) -> None:
        """Replace one metric by a value still valid in a post but not carried, or a float."""
        if self.random.random() < 0.5:
            fields[name] = self.random.choice(_ODD_VALUES)
        else:
            fields[name] = float(fields[name])  # integral float: still carried

    def malformed_data(self, kind: str) -> str:
        """Return an event of the given malformed kind that the parser must reject."""
        post_type, fields = self.post()
        timestamp = fields["timestamp"]
        bad_timestamps = {
            "string_timestamp": str(timestamp),
            "boolean_timestamp": True,
            "fractional_timestamp": timestamp + 0.5,
        }
        if kind in bad_timestamps:
            fields["timestamp"] = bad_timestamps[kind]
        elif kind == "missing_timestamp":
            del fields["timestamp"]
        document = {
            "list": [post_type, fields],
            "number": fields["id"],
            "empty_object": {},
            "two_root_keys": {post_type: fields, f"{post_type}_copy": fields},
            "value_not_an_object": {post_type: str(timestamp)},
        }.get(kind, {post_type: fields})
        text = _DUMP(document)
        return text[: len(text) // 2] if kind == "broken_json" else text


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    simulator: StreamSimulator

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn) that can stall for seconds.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
        if urlsplit(self.path).path != "/stream":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.close_connection = True
        self.server.simulator._serve_client(self)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - base signature
        logger.debug("%s " + format, self.address_string(), *args)


class _Connection:
    """One client's stream: its generator, its schedule and the SSE framing.

    The first `pool` payloads are generated, then replayed in a loop with fresh timestamps:
    generating a realistic payload costs ~20 µs, more than a fast stream allows.
    """

    def __init__(self, simulator: StreamSimulator, number: int, wfile) -> None:
        self.sim = simulator
        self.number = number
        self.wfile = wfile
        seed = None if simulator.seed is None else simulator.seed * 1_000_003 + number
        self.generator = EventGenerator(seed=seed, malformed_every=simulator.malformed_every)
        self.pool: list[tuple[str, int, str | None, bool]] = []
        self.count = 0

    def run(self) -> str:
        """Stream events until stopped or cut; return why the stream ended."""
        sim = self.sim
        start = time.monotonic()
        drop_at = start + sim.drop_after if sim.drop_after is not None else math.inf
        interval = sim.keepalive_interval if sim.keepalive_interval > 0 else math.inf
        next_keepalive = start + interval
        while not sim._stopping.is_set():
            now = time.monotonic()
            if now >= drop_at:
                self.cut()
                return "cut mid-event (drop_after)"
            due = BATCH if sim.rate <= 0 else int((now - start) * sim.rate) + 1 - self.count
            events = [self.frame() for _ in range(min(due, BATCH))]
            texts = [event[0] for event in events]
            if now >= next_keepalive:
                texts.append(": keepalive\n\n")
                next_keepalive = now + interval
            if texts:
                sim._count_sent(self.number, time.time(), events, complete=True)
                self.write("".join(texts).encode())
            if sim.rate > 0:
                # Fast streams go out in ticks of a few events, as a real server's writes do.
                wake = max(start + self.count / sim.rate, now + TICK)
                sim._stopping.wait(max(0.0, min(wake, next_keepalive, drop_at) - time.monotonic()))
        return "simulator stopped"

    def next_data(self) -> tuple[str, bool]:
        """Return the next payload (from the pool once it is full) and whether it is a post."""
        if len(self.pool) < self.sim.pool:
            data, valid = self.generator.next_data()
            # The creation time is kept as an age, so replayed posts stay recent.
            match = _TIMESTAMP.search(data)
            if match is None:  # a malformed event without an integer timestamp
                self.pool.append((data, 0, None, valid))
            else:
                age = int(time.time()) - int(match[1])
                self.pool.append((data[: match.start(1)], age, data[match.end(1) :], valid))
        head, age, tail, valid = self.pool[self.count % len(self.pool)]
        return (head if tail is None else f"{head}{int(time.time()) - age}{tail}"), valid

    def frame(self) -> tuple[str, str | None, str, bool]:
        """Return the next event as (SSE text, id, data as a client joins it, valid)."""
        data, valid = self.next_data()
        self.count += 1
        sim, head, event_id = self.sim, "", None
        if sim.ids:
            event_id = str(next(sim._ids))
            head = f"id: {event_id}\n"
        if self.count == 1 and sim.retry_ms is not None:
            head += f"retry: {sim.retry_ms}\n"
        if sim.multiline_every > 0 and self.count % sim.multiline_every == 0:
            with contextlib.suppress(ValueError):  # broken JSON stays on one line
                data = json.dumps(json.loads(data), indent=1, ensure_ascii=False)
            lines = "".join(f"data: {line}\n" for line in data.split("\n"))
            return f"{head}{lines}\n", event_id, data, valid
        return f"{head}data: {data}\n\n", event_id, data, valid

    def cut(self) -> None:
        """Write the first half of the next event's bytes, then hang up as a cut upstream does."""
        event = self.frame()
        raw = event[0].encode()
        self.sim._count_sent(self.number, time.time(), [event], complete=False)
        self.write(raw[: len(raw) // 2])

    def write(self, payload: bytes) -> None:
        """Write one HTTP/1.1 chunk."""
        self.wfile.write(b"%X\r\n%s\r\n" % (len(payload), payload))


class StreamSimulator:
    """Serve GET /stream as an endless SSE stream of posts, one thread per client."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        rate: float = 50.0,
        seed: int | None = None,
        malformed_every: int = 0,
        drop_after: float | None = None,
        ids: bool = False,
        multiline_every: int = 0,
        keepalive_interval: float = 1.0,
        retry_ms: int | None = None,
        pool: int = 10_000,
        record: bool = False,
        record_file: TextIO | None = None,
    ) -> None:
        """`record` keeps every SentEvent in `sent`; `record_file` gets one JSON line per
        write ({"connection", "sent_at", "events", "posts"}), for a process that cannot
        read `sent`: what each connection carried, and when."""
        self.host, self._port, self.rate, self.seed = host, port, rate, seed
        self.malformed_every, self.drop_after, self.ids = malformed_every, drop_after, ids
        self.multiline_every, self.keepalive_interval = multiline_every, keepalive_interval
        self.retry_ms, self.pool, self.record = retry_ms, max(pool, 1), record
        self.record_file = record_file
        self.sent: list[SentEvent] = []
        self.last_event_ids: list[str] = []  # the Last-Event-ID headers clients sent
        self.connections = 0
        self.events_sent = 0
        self._stopping = threading.Event()
        self._ids = itertools.count(1)  # next() on it is atomic under the GIL
        self._lock = threading.Lock()
        self._clients: dict[socket.socket, threading.Thread] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._serving = False

    @property
    def port(self) -> int:
        return self._server.server_address[1] if self._server else self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/stream"

    def bind(self) -> None:
        """Open the listening socket now (raises OSError when the port is busy)."""
        if self._server is None:
            self._server = _Server((self.host, self._port), _Handler)
            self._server.simulator = self
            self._server.timeout = 0.1  # how often the serving loop looks at the stop flag

    def start(self) -> None:
        """Bind and serve in a daemon thread; return at once."""
        self.bind()
        self._thread = threading.Thread(target=self.serve_forever, name="simulator", daemon=True)
        self._thread.start()

    def serve_forever(self) -> None:
        """Bind if needed and serve in the calling thread until stop()."""
        self.bind()
        assert self._server is not None
        self._serving = True
        pace = f"{self.rate:g} events/s" if self.rate > 0 else "full speed"
        logger.info("simulating the stream on %s at %s per client", self.url, pace)
        last_time, last_count = time.monotonic(), 0
        try:
            while not self._stopping.is_set():
                self._server.handle_request()
                if time.monotonic() - last_time >= 10:
                    last_time, last_count = self._report(last_time, last_count)
        finally:
            self._close_clients()
            self._server.server_close()

    def stop(self) -> None:
        """Stop serving, close every client connection and wait for the threads."""
        # Only a flag here: stop() runs in signal handlers, on the thread that is serving.
        self._stopping.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        elif self._server is not None and not self._serving:
            self._server.server_close()

    def __enter__(self) -> StreamSimulator:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _serve_client(self, handler: BaseHTTPRequestHandler) -> None:
        """Stream to one client until it leaves, the stream is cut, or stop()."""
        with self._lock:
            self.connections += 1
            number = self.connections
            self._clients[handler.connection] = threading.current_thread()
        last_id = handler.headers.get("Last-Event-ID")
        if last_id is not None:
            self.last_event_ids.append(last_id)
        resume = f", Last-Event-ID {last_id} (no replay)" if last_id else ""
        logger.info("connection %d opened from %s%s", number, handler.client_address[0], resume)
        connection = _Connection(self, number, handler.wfile)
        try:
            reason = connection.run()
        except OSError as error:
            reason = "simulator stopped" if self._stopping.is_set() else f"client gone: {error}"
        finally:
            with self._lock:
                self._clients.pop(handler.connection, None)
        with contextlib.suppress(OSError):
            handler.connection.shutdown(socket.SHUT_RDWR)
        logger.info("connection %d closed after %d events: %s", number, connection.count, reason)

    def _count_sent(self, number: int, sent_at: float, events: list, *, complete: bool) -> None:
        """Count events about to be written, recording them first so no reader is ahead of sent."""
        records = [
            SentEvent(number, sent_at, event_id, data, valid, complete)
            for _, event_id, data, valid in events
            if self.record
        ]
        with self._lock:
            self.events_sent += len(events)
            self.sent.extend(records)
            if self.record_file is not None and events:
                posts = sum(event[3] for event in events) if complete else 0
                line = {"connection": number, "sent_at": sent_at, "events": len(events)}
                self.record_file.write(json.dumps({**line, "posts": posts}) + "\n")

    def _report(self, last_time: float, last_count: int) -> tuple[float, int]:
        now, count = time.monotonic(), self.events_sent
        if count != last_count or self._clients:
            rate = (count - last_count) / (now - last_time)
            logger.info("%.0f events/s to %d clients (%d sent)", rate, len(self._clients), count)
        return now, count

    def _close_clients(self) -> None:
        # Shutting the sockets down unblocks a thread stuck writing to a client that reads slowly.
        with self._lock:
            clients = dict(self._clients)
        for sock in clients:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in clients.values():
            thread.join(timeout=1)
