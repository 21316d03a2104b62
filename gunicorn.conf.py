"""gunicorn settings for the web process (docker-compose `web`), from the environment.

One worker process per container: Prometheus metrics and the realtime cap are
per-process, and replicas scale the web tier. The worker serves each connection in a
gevent greenlet, not an OS thread: a realtime window waits up to REALTIME_MAX_DURATION for
its deadline, and when hundreds of them end together, 256 threads waking at once queue for
the GIL and answer in turns interleaved with one another (the last answer 0.45-0.9 s after
its deadline on 2 cores), where greenlets answer one after the other (bench/RESULTS.md).
psycopg (3.1.14 on) waits cooperatively under gevent. However many connections, they share
the process's pool of DATABASE_POOL_MAX_SIZE database connections
(analyzer_project/settings.py); realtime windows hold none.
"""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8080')}"
workers = 1
worker_class = "gevent"
# Connections served at once: every realtime window the cap allows (settings.py default)
# and room for historical requests and slow clients beside them.
worker_connections = int(os.environ.get("REALTIME_MAX_CONCURRENT", "256")) + 768
# A realtime window lasts up to REALTIME_MAX_DURATION (60 s by default).
timeout = 90
graceful_timeout = 70
# gunicorn's ceiling (default 4094): query strings up to 8 KB reach the API and get its JSON
# answers; longer request lines get gunicorn's 414.
limit_request_line = 8190
accesslog = "-"
# gunicorn's default line, and the request's ID (analyzer_project/request_id.py).
access_log_format = (
    '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" request_id=%({x-request-id}o)s'
)
proc_name = "stream-analyzer-web"
