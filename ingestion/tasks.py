"""django-q2 tasks for the scheduler process (`manage.py qcluster`); see migration 0003."""

from __future__ import annotations

import logging

from django.utils import timezone

from ingestion.services import posts_prune

logger = logging.getLogger(__name__)


def prune_posts_task() -> str:
    """Run partition maintenance now; the returned line is kept as the task's result."""
    result = posts_prune(now=timezone.now())
    logger.info("partition maintenance: %s", result)
    return str(result)
