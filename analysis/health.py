"""Operational endpoints: liveness, readiness and Prometheus metrics.

/readyz checks the database and the migrations, then asks every app whose AppConfig has a
`readiness_checks()` method (ingestion: collector heartbeat, current partition).
"""

from __future__ import annotations

from django.apps import apps
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process answers."""
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready when the database answers, is migrated, and every app's checks pass."""
    try:
        checks = readiness_checks()
    except DatabaseError as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else "unreachable"
        checks = {"database": f"failed: {first_line}"}
    ready = all(result == "ok" for result in checks.values())
    return JsonResponse({"ready": ready, "checks": checks}, status=200 if ready else 503)


_migrated = False  # once every migration of this code is applied, it stays so


def pending_migrations() -> int:
    """Count unapplied migrations; after the first 0, skip the graph build every probe paid."""
    global _migrated
    if not _migrated:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        _migrated = not pending
        return len(pending)
    return 0


def readiness_checks() -> dict[str, str]:
    """Check the database and its migrations, then ask each app with readiness checks."""
    connection.ensure_connection()
    checks = {"database": "ok"}
    pending = pending_migrations()
    checks["migrations"] = f"failed: {pending} not applied" if pending else "ok"
    for app_config in apps.get_app_configs():
        if hasattr(app_config, "readiness_checks"):
            checks.update(app_config.readiness_checks())
    return checks


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)
