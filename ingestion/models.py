from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models


class Post(models.Model):
    """One observed post. The table is range-partitioned by hour of `arrived_at`.

    The migration creates it by hand (Django cannot declare partitioning); in the
    database the primary key is (id, arrived_at), as PostgreSQL requires the partition
    key in every unique constraint. `id` alone is unique too: it comes from one identity.
    """

    id = models.BigAutoField(primary_key=True)
    arrived_at = models.DateTimeField(help_text="When the collector read the event.")
    post_type = models.CharField(max_length=64)
    upstream_id = models.BigIntegerField(null=True, blank=True)
    post_id = models.CharField(max_length=64, blank=True)
    created_ts = models.BigIntegerField(help_text="The post's creation time, Unix seconds.")
    likes = models.BigIntegerField(null=True, blank=True)
    comments = models.BigIntegerField(null=True, blank=True)
    favorites = models.BigIntegerField(null=True, blank=True)
    retweets = models.BigIntegerField(null=True, blank=True)
    metrics = models.JSONField(default=dict, blank=True, help_text="Other numeric fields.")
    text = models.CharField(max_length=200, blank=True)
    link = models.CharField(max_length=500, blank=True)

    class Meta:
        db_table = "ingestion_post"
        ordering = ["-arrived_at"]

    def __str__(self) -> str:
        return f"{self.post_type} {self.post_id or self.pk}"


class CollectorHeartbeat(models.Model):
    """The leading collector's last sign of life, for /readyz (ingestion/health.py)."""

    collector = models.CharField(max_length=200, primary_key=True, help_text="host:pid")
    beat_at = models.DateTimeField()
    ingested = models.BigIntegerField(default=0, help_text="Posts written by this process.")

    def __str__(self) -> str:
        return f"{self.collector} at {self.beat_at:%Y-%m-%d %H:%M:%S}"


class BucketCount(models.Model):
    """How many posts of one minute (span 60) or hour (span 3600) carry a value of a bucket.

    Written with the posts by posts_ingest (ingestion/aggregates.py defines the buckets);
    read by the historical selector, which sums them instead of sorting the window's rows.
    """

    pk = models.CompositePrimaryKey("span", "dimension", "start", "bucket")
    span = models.SmallIntegerField(help_text="Seconds covered: 60 or 3600.")
    dimension = models.CharField(max_length=16)
    start = models.DateTimeField()
    bucket = models.SmallIntegerField()
    n = models.BigIntegerField()

    class Meta:
        db_table = "ingestion_bucketcount"

    def __str__(self) -> str:
        return f"{self.dimension} bucket {self.bucket} of {self.span} s at {self.start}: {self.n}"


class SecondCount(models.Model):
    """How many posts of one second carry a value of each bucket: a sparse histogram.

    A second holds few posts spread over many buckets, so one row per (dimension, second)
    with parallel arrays (sorted by bucket) instead of a row per bucket: about 10 times
    less storage at 100 posts/s. Written and read like BucketCount.
    """

    pk = models.CompositePrimaryKey("dimension", "start")
    dimension = models.CharField(max_length=16)
    start = models.DateTimeField()
    buckets = ArrayField(models.SmallIntegerField())
    counts = ArrayField(models.IntegerField())

    class Meta:
        db_table = "ingestion_secondcount"

    def __str__(self) -> str:
        return f"{self.dimension} at {self.start}: {sum(self.counts)} values"


class PeriodSummary(models.Model):
    """Posts of one second, minute or hour (span 1, 60, 3600), and their creation-time range."""

    pk = models.CompositePrimaryKey("span", "start")
    span = models.SmallIntegerField(help_text="Seconds covered: 1, 60 or 3600.")
    start = models.DateTimeField()
    posts = models.BigIntegerField()
    min_created_ts = models.BigIntegerField()
    max_created_ts = models.BigIntegerField()

    class Meta:
        db_table = "ingestion_periodsummary"

    def __str__(self) -> str:
        return f"{self.posts} posts in {self.span} s at {self.start}"


class TypeCount(models.Model):
    """BucketCount per post type: the minute and hour counts of one type's posts.

    Read when a question names post types; seconds are not kept per type, so such a window
    reads the raw rows of its partial minutes.
    """

    pk = models.CompositePrimaryKey("span", "post_type", "dimension", "start", "bucket")
    span = models.SmallIntegerField(help_text="Seconds covered: 60 or 3600.")
    post_type = models.CharField(max_length=64)
    dimension = models.CharField(max_length=16)
    start = models.DateTimeField()
    bucket = models.SmallIntegerField()
    n = models.BigIntegerField()

    class Meta:
        db_table = "ingestion_typecount"

    def __str__(self) -> str:
        return f"{self.post_type} {self.dimension} bucket {self.bucket} at {self.start}: {self.n}"


class TypeSummary(models.Model):
    """PeriodSummary per post type, for minutes and hours (span 60, 3600)."""

    pk = models.CompositePrimaryKey("span", "post_type", "start")
    span = models.SmallIntegerField(help_text="Seconds covered: 60 or 3600.")
    post_type = models.CharField(max_length=64)
    start = models.DateTimeField()
    posts = models.BigIntegerField()
    min_created_ts = models.BigIntegerField()
    max_created_ts = models.BigIntegerField()

    class Meta:
        db_table = "ingestion_typesummary"

    def __str__(self) -> str:
        return f"{self.posts} {self.post_type} posts in {self.span} s at {self.start}"
