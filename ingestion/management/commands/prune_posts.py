from __future__ import annotations

from django.core.management.base import BaseCommand
from django.utils import timezone

from ingestion.services import posts_prune


class Command(BaseCommand):
    help = "Create the next hours' partitions and drop those past RETENTION, as the scheduler does."

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="say what would change, change nothing"
        )

    def handle(self, *args, **options):
        dry_run = options["dry_run"]
        result = posts_prune(now=timezone.now(), dry_run=dry_run)
        verbs = ("would create", "would drop") if dry_run else ("created", "dropped")
        for verb, names in zip(verbs, (result.created, result.dropped), strict=True):
            self.stdout.write(f"{verb} {len(names)} partition(s): {', '.join(names) or '-'}")
