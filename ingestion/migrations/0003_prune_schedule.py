from django.db import migrations

# The scheduler's one schedule: partition maintenance (ingestion.tasks.prune_posts_task).
# Every 5 minutes keeps the two-hour lead of partitions with a wide margin even after
# missed runs, and drops an expired partition at most 5 minutes after it passes RETENTION.
#
# A data migration rather than a post_migrate handler: declared once per database, at a
# known point of its history, and `migrate` run again does nothing. update_or_create by
# name means even re-applying it (after a rollback, or --fake) never makes a second one.
# Self-contained on purpose: a migration importing the service layer breaks when it changes.
NAME = "posts_prune"


def create_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name=NAME,
        defaults={
            "func": "ingestion.tasks.prune_posts_task",
            "schedule_type": "I",  # Schedule.MINUTES: historical models lack the constants
            "minutes": 5,
            "repeats": -1,  # forever
        },
    )


def delete_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("ingestion", "0002_post_admin_indexes"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
