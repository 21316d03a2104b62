from django.db import migrations

# A data migration rather than a post_migrate handler: the schedule is declared once per
# database, at a known point of its history, and `migrate` run again does nothing.
# schedule_prune_posts() uses update_or_create by name, so even re-applying this
# migration (after a rollback, or with --fake) never makes a second schedule.


def create_schedule(apps, schema_editor):
    from ingestion.tasks import schedule_prune_posts

    schedule_prune_posts(apps.get_model("django_q", "Schedule"))


def delete_schedule(apps, schema_editor):
    from ingestion.tasks import PRUNE_SCHEDULE

    apps.get_model("django_q", "Schedule").objects.filter(name=PRUNE_SCHEDULE).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("ingestion", "0002_post_admin_indexes"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
