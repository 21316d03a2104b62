"""Writes to the posts table."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from django.db import connection, transaction

from ingestion.parser import Post

COLUMNS = (
    "arrived_at, post_type, upstream_id, post_id, created_ts,"
    " likes, comments, favorites, retweets, metrics, text, link"
)


def posts_ingest(*, posts: Sequence[tuple[datetime, Post]]) -> int:
    """Store (arrival time, post) pairs in one COPY; return how many were written."""
    copy_sql = f"COPY ingestion_post ({COLUMNS}) FROM STDIN"
    with transaction.atomic(), connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
        for arrived_at, post in posts:
            copy.write_row(
                (
                    arrived_at,
                    post.post_type,
                    post.upstream_id,
                    post.post_id,
                    post.created_ts,
                    post.likes,
                    post.comments,
                    post.favorites,
                    post.retweets,
                    json.dumps(post.metrics),
                    post.text,
                    post.link,
                )
            )
    return len(posts)
