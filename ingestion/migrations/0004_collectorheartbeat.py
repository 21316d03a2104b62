from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("ingestion", "0003_prune_schedule")]

    operations = [
        migrations.CreateModel(
            name="CollectorHeartbeat",
            fields=[
                (
                    "collector",
                    models.CharField(
                        help_text="host:pid", max_length=200, primary_key=True, serialize=False
                    ),
                ),
                ("beat_at", models.DateTimeField()),
                (
                    "ingested",
                    models.BigIntegerField(default=0, help_text="Posts written by this process."),
                ),
            ],
        ),
    ]
