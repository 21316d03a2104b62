"""gunicorn settings for the web process (docker-compose `web`), from the environment.

One worker process per container: Prometheus metrics and the realtime cap are
per-process, and replicas scale the web tier. Threads: one per realtime window the cap
allows, plus headroom so historical requests never queue behind realtime ones. However many
threads, they share the process's pool of DATABASE_POOL_MAX_SIZE database connections
(analyzer_project/settings.py); realtime windows hold none.
"""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8080')}"
workers = 1
worker_class = "gthread"
threads = int(os.environ.get("REALTIME_MAX_CONCURRENT", "256")) + 16  # settings.py default
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
