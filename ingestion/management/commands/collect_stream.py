from __future__ import annotations

import logging
import signal
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from prometheus_client import start_http_server

from ingestion.collector import (
    BATCH_SIZE,
    BUFFER_LIMIT,
    FLUSH_INTERVAL,
    PROGRESS_INTERVAL,
    StreamCollector,
)
from ingestion.stream import StreamReader

logger = logging.getLogger("ingestion.collector")


class Command(BaseCommand):
    help = "Read the SSE stream forever and store its posts (one leader; others wait as standby)."

    def add_arguments(self, parser):
        parser.add_argument("--url", default=None, help="SSE endpoint (default: STREAM_URL)")
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
        parser.add_argument("--flush-interval", type=float, default=FLUSH_INTERVAL, help="seconds")
        parser.add_argument("--buffer-limit", type=int, default=BUFFER_LIMIT, help="posts")
        parser.add_argument(
            "--progress-interval", type=float, default=PROGRESS_INTERVAL, help="seconds"
        )
        parser.add_argument(
            "--metrics-port", type=int, default=None, help="serve Prometheus /metrics on it"
        )
        parser.add_argument("--metrics-host", default="0.0.0.0", help="address for --metrics-port")

    def handle(self, *args, **options):
        url = options["url"] or settings.STREAM_URL
        if not url.startswith(("http://", "https://")):
            raise CommandError(f"--url {url!r}: expected an http:// or https:// URL")
        if min(options["batch_size"], options["buffer_limit"]) < 1:
            raise CommandError("--batch-size and --buffer-limit must be at least 1")
        if options["flush_interval"] <= 0:
            raise CommandError("--flush-interval must be more than 0 seconds")
        collector = StreamCollector(
            lambda: StreamReader(url),
            batch_size=options["batch_size"],
            flush_interval=options["flush_interval"],
            buffer_limit=options["buffer_limit"],
            progress_interval=options["progress_interval"],
        )

        def stop(signum, frame):
            logger.info("%s received: flushing and exiting", signal.Signals(signum).name)
            collector.request_shutdown()

        if options["metrics_port"] is not None:
            try:
                start_http_server(options["metrics_port"], addr=options["metrics_host"])
            except OSError as error:
                raise CommandError(f"--metrics-port {options['metrics_port']}: {error}") from None
            logger.info("metrics on :%d/metrics", options["metrics_port"])
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        # The writer thread waits on PostgreSQL a few times a batch, then for the GIL back
        # from the reader thread, which parses without pause at full speed: a 1 ms switch
        # interval instead of Python's 5 ms shortens those waits (+10 % posts/s at full
        # speed, bench/RESULTS.md).
        sys.setswitchinterval(0.001)
        logger.info("collecting %s", url)
        collector.run()
        self.stdout.write(collector.summary())
        if collector.buffer:
            raise CommandError(f"{len(collector.buffer)} posts could not be written")
