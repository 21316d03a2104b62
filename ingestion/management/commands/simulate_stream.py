"""Serve a local stand-in for the upstream SSE stream of posts."""

from __future__ import annotations

import logging
import signal
from contextlib import nullcontext

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ingestion.simulator import StreamSimulator

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Serve GET /stream: an endless SSE stream of realistic posts, like the upstream one."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=9000, help="0 picks a free port")
        parser.add_argument(
            "--rate", type=float, default=50.0, help="events/s per client; 0 = as fast as possible"
        )
        parser.add_argument("--seed", type=int, help="make the posts reproducible")
        parser.add_argument("--malformed-every", type=int, default=0, metavar="N")
        parser.add_argument("--drop-after", type=float, metavar="S", help="cut mid-event after S s")
        parser.add_argument("--ids", action="store_true", help="send an id: with each event")
        parser.add_argument("--multiline-every", type=int, default=0, metavar="N")
        parser.add_argument("--retry-ms", type=int, metavar="MS", help="send retry: MS")
        parser.add_argument(
            "--pool", type=int, default=10_000, metavar="N",
            help="payloads generated per connection, then replayed with fresh timestamps",
        )  # fmt: skip
        parser.add_argument(
            "--record", metavar="FILE",
            help="append a JSON line per write: connection, sent_at, events, posts",
        )  # fmt: skip

    def handle(self, *args: object, **options: object) -> None:
        if not 0 <= options["port"] <= 65535:
            raise CommandError(f"--port must be between 0 and 65535, not {options['port']}")
        if options["pool"] < 1:
            raise CommandError("--pool must be at least 1")
        for name in ("malformed_every", "multiline_every", "retry_ms"):
            if (options[name] or 0) < 0:
                raise CommandError(f"--{name.replace('_', '-')} must not be negative")
        if options["drop_after"] is not None and options["drop_after"] <= 0:
            raise CommandError("--drop-after must be a positive number of seconds")
        simulator = StreamSimulator(
            host=options["host"],
            port=options["port"],
            rate=options["rate"],
            seed=options["seed"],
            malformed_every=options["malformed_every"],
            drop_after=options["drop_after"],
            ids=options["ids"],
            multiline_every=options["multiline_every"],
            retry_ms=options["retry_ms"],
            pool=options["pool"],
        )
        try:
            simulator.bind()
        except OSError as error:
            address = f"{options['host']}:{options['port']}"
            raise CommandError(f"cannot listen on {address}: {error}") from error
        # Line-buffered: a benchmark reads the record while the stream runs.
        record = options["record"]
        with open(record, "a", buffering=1, encoding="utf-8") if record else nullcontext() as file:
            simulator.record_file = file
            self.serve(simulator)
        self.stdout.write(
            f"stopped: {simulator.events_sent} events sent over {simulator.connections} connections"
        )

    def serve(self, simulator: StreamSimulator) -> None:
        """Serve until SIGTERM or SIGINT."""

        def on_signal(signum: int, frame: object) -> None:
            logger.info("%s received, stopping", signal.Signals(signum).name)
            simulator.stop()

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            simulator.serve_forever()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
