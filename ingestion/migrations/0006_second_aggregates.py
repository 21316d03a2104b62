from django.db import migrations, models

# The per-second level of the aggregates (ingestion/aggregates.py) for the posts stored
# before it existed: everything before the first second a collector counted itself. The
# bucket boundaries are spelled out here as they were defined when this migration was
# written (one bucket per value below 64, then 16 per doubling), not imported.
BACKFILL = """
WITH bounds AS (
    SELECT array_agg(bound ORDER BY bound) AS bounds FROM (
        SELECT generate_series(0, 63)::bigint AS bound
        UNION ALL
        SELECT (2::numeric ^ e + i * 2::numeric ^ (e - 4))::bigint
        FROM generate_series(6, 62) AS e, generate_series(0, 15) AS i
    ) AS b
), counted AS (
    SELECT coalesce(min(start), 'infinity') AS first FROM ingestion_periodsummary WHERE span = 1
)
INSERT INTO ingestion_bucketcount (span, dimension, start, bucket, n)
SELECT 1, d.dimension, date_trunc('second', p.arrived_at), width_bucket(d.value, bounds.bounds),
       count(*)
FROM ingestion_post AS p
CROSS JOIN LATERAL (VALUES ('likes', p.likes), ('comments', p.comments),
                           ('favorites', p.favorites), ('retweets', p.retweets))
     AS d(dimension, value)
CROSS JOIN bounds CROSS JOIN counted
WHERE d.value IS NOT NULL AND p.arrived_at < counted.first
GROUP BY 2, 3, 4;

INSERT INTO ingestion_periodsummary (span, start, posts, min_created_ts, max_created_ts)
SELECT 1, date_trunc('second', arrived_at), count(*), min(created_ts), max(created_ts)
FROM ingestion_post
WHERE arrived_at < (
    SELECT coalesce(min(start), 'infinity') FROM ingestion_periodsummary WHERE span = 1
)
GROUP BY 2;
"""
REMOVE = """
DELETE FROM ingestion_bucketcount WHERE span = 1;
DELETE FROM ingestion_periodsummary WHERE span = 1;
"""


class Migration(migrations.Migration):
    dependencies = [("ingestion", "0005_aggregates")]

    operations = [
        migrations.AlterField(
            model_name="bucketcount",
            name="span",
            field=models.SmallIntegerField(help_text="Seconds covered: 1, 60 or 3600."),
        ),
        migrations.AlterField(
            model_name="periodsummary",
            name="span",
            field=models.SmallIntegerField(help_text="Seconds covered: 1, 60 or 3600."),
        ),
        migrations.RunSQL(BACKFILL, REMOVE),
    ]
