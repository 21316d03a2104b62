"""django-q2 tasks, run by the scheduler process (`manage.py qcluster`)."""

from __future__ import annotations

import logging

from django.utils import timezone

from ingestion.services import posts_prune

logger = logging.getLogger(__name__)

PRUNE_SCHEDULE = "posts_prune"


def prune_posts_task() -> str:
    """Run partition maintenance now; the returned line is kept as the task's result."""
    result = posts_prune(now=timezone.now())
    summary = f"created {result.created or 'none'}, dropped {result.dropped or 'none'}"
    logger.info("partition maintenance: %s", summary)
    return summary


def schedule_prune_posts(schedule_model) -> None:
    """Declare the maintenance schedule; running it again updates the same row.

    Called by migration 0003 with the historical Schedule model. Every 5 minutes keeps
    the two-hour lead of partitions with a wide margin even after a missed run, and drops
    an expired partition at most 5 minutes after it passes the retention.
    """
    schedule_model.objects.update_or_create(
        name=PRUNE_SCHEDULE,
        defaults={
            "func": "ingestion.tasks.prune_posts_task",
            "schedule_type": "I",  # Schedule.MINUTES; historical models lack the constants
            "minutes": 5,
            "repeats": -1,
        },
    )
