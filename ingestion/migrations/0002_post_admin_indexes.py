from django.db import migrations

# The admin's filters and search (ingestion/admin.py). Created on the partitioned parent,
# so PostgreSQL builds one on every partition, present and future. Raw SQL, as for the
# table itself in 0001: the model state is unchanged (Post declares no indexes).
INDEXES = """
-- Type filter. The planner walks the arrived_at index for common types; this one is for a
-- rare or absent type, which would otherwise read every row to fill (or count) a page.
CREATE INDEX ingestion_post_type_arrived_at ON ingestion_post (post_type, arrived_at);
-- Search by exact post_id.
CREATE INDEX ingestion_post_post_id ON ingestion_post (post_id);
"""


class Migration(migrations.Migration):
    dependencies = [("ingestion", "0001_initial")]

    operations = [
        migrations.RunSQL(
            INDEXES,
            "DROP INDEX ingestion_post_type_arrived_at; DROP INDEX ingestion_post_post_id;",
        ),
    ]
