"""gunicorn settings for the web process (docker-compose `web`), from the environment.

One worker process per container: Prometheus metrics and the realtime cap are
per-process, and replicas scale the web tier. Threads: one per realtime window the cap
allows, plus headroom so historical requests never queue behind realtime ones.
"""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8080')}"
workers = 1
worker_class = "gthread"
threads = int(os.environ.get("REALTIME_MAX_CONCURRENT", "32")) + 16
# A realtime window lasts up to REALTIME_MAX_DURATION (60 s by default).
timeout = 90
graceful_timeout = 70
accesslog = "-"
proc_name = "stream-analyzer-web"
