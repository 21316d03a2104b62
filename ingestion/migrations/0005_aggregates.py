from django.db import migrations, models

# The exact-value lookup of the historical percentiles (analysis/historical.py): once the
# bucket counts say "the rank-r value is the k-th value in [lo, hi]", one of these walks
# the bucket in order inside the window. Partial (posts carrying the dimension only) and
# on the partitioned parent, so every partition, present and future, gets one.
INDEXES = "".join(
    f"CREATE INDEX ingestion_post_{d}_arrived_at ON ingestion_post ({d}, arrived_at)"
    f" WHERE {d} IS NOT NULL;\n"
    for d in ("likes", "comments", "favorites", "retweets")
)
DROP_INDEXES = "".join(
    f"DROP INDEX ingestion_post_{d}_arrived_at;\n"
    for d in ("likes", "comments", "favorites", "retweets")
)
# Every flush adds to the same current-minute and current-hour rows: room on the page
# lets those updates be HOT (no index entry, dead versions pruned in place).
FILLFACTOR = """
ALTER TABLE ingestion_bucketcount SET (fillfactor = 70);
ALTER TABLE ingestion_periodsummary SET (fillfactor = 70);
"""


class Migration(migrations.Migration):
    dependencies = [("ingestion", "0004_collectorheartbeat")]

    operations = [
        migrations.CreateModel(
            name="BucketCount",
            fields=[
                ("pk", models.CompositePrimaryKey("span", "dimension", "start", "bucket", blank=True, editable=False, primary_key=True, serialize=False)),
                ("span", models.SmallIntegerField(help_text="Seconds covered: 60 or 3600.")),
                ("dimension", models.CharField(max_length=16)),
                ("start", models.DateTimeField()),
                ("bucket", models.SmallIntegerField()),
                ("n", models.BigIntegerField()),
            ],
            options={"db_table": "ingestion_bucketcount"},
        ),
        migrations.CreateModel(
            name="PeriodSummary",
            fields=[
                ("pk", models.CompositePrimaryKey("span", "start", blank=True, editable=False, primary_key=True, serialize=False)),
                ("span", models.SmallIntegerField(help_text="Seconds covered: 60 or 3600.")),
                ("start", models.DateTimeField()),
                ("posts", models.BigIntegerField()),
                ("min_created_ts", models.BigIntegerField()),
                ("max_created_ts", models.BigIntegerField()),
            ],
            options={"db_table": "ingestion_periodsummary"},
        ),
        migrations.RunSQL(FILLFACTOR, migrations.RunSQL.noop),
        migrations.RunSQL(INDEXES, DROP_INDEXES),
    ]
