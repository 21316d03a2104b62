"""Single-leader election for collectors, by a PostgreSQL session-level advisory lock."""

from __future__ import annotations

import logging

import psycopg
from django.db import connection

logger = logging.getLogger(__name__)

# Any constant shared by every collector of one database: "stream-analyzer collector".
LOCK_KEY = 0x5354_5245_414D_434F


class LeaderLock:
    """Hold the collectors' advisory lock on a connection of its own.

    The lock lives as long as that connection: when a leader dies, PostgreSQL ends its
    session and releases the lock, and a standby's next try_acquire() takes it.
    """

    def __init__(self) -> None:
        self._connection: psycopg.Connection | None = None

    def try_acquire(self) -> bool:
        """Take the lock if it is free; return whether this process now holds it."""
        try:
            if self._connection is None or self._connection.closed:
                params = connection.get_connection_params()
                self._connection = psycopg.connect(**params, autocommit=True)
            row = self._connection.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])
            return bool(row.fetchone()[0])
        except psycopg.Error as error:
            logger.warning("cannot reach the database for the leader lock: %s", error)
            self.release()
            return False

    def still_ours(self) -> bool:
        """Return False only when another collector is known to hold the lock now.

        While the database is unreachable nobody can take the lock from us, so the answer
        is True: the leader keeps reading and buffering through an outage.
        """
        try:
            if self._connection is not None and not self._connection.closed:
                self._connection.execute("SELECT 1")
                return True
        except psycopg.Error:
            self.release()
        if self.try_acquire():
            return True
        return self._connection is None  # unreachable: still ours as far as anyone knows

    def release(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
