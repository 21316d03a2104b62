"""An embedded PostgreSQL (the pgserver package) in .data/, for when DATABASE_URL is unset.

Every process of the project calls embedded_database() from settings: the first one
starts the server, the others find it running (pgserver serialises this with a file lock).
It keeps running after they exit; `python -m analyzer_project.embedded_db stop` stops it.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent.parent / ".data" / "postgres"
DATABASE_NAME = "stream_analyzer"


def _pgserver():
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset; the fallback it picks is fine.
        warnings.simplefilter("ignore")
        import pgserver

    return pgserver


def embedded_database(data_dir: Path = DATA_DIR) -> dict:
    """Start (or find) the embedded server and return Django connection settings for it."""
    import psycopg

    data_dir.mkdir(parents=True, exist_ok=True)
    server = _pgserver().get_server(data_dir, cleanup_mode=None)
    socket_dir = str(server.get_postmaster_info().socket_dir)
    with psycopg.connect(host=socket_dir, user="postgres", dbname="postgres", autocommit=True) as c:
        exists = c.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME])
        if exists.fetchone() is None:
            c.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    return {"NAME": DATABASE_NAME, "USER": "postgres", "HOST": socket_dir, "PORT": ""}


def stop(data_dir: Path = DATA_DIR) -> str:
    """Stop the embedded server if it runs; return what happened."""
    if not (data_dir / "postmaster.pid").exists():
        return "embedded PostgreSQL is not running"
    _pgserver()  # imported quietly first
    from pgserver._commands import pg_ctl

    user = "pgserver" if _is_root() else None
    pg_ctl(["-w", "stop", "-m", "fast"], pgdata=data_dir, user=user)
    return f"embedded PostgreSQL in {data_dir} stopped"


def _is_root() -> bool:
    import os

    return os.geteuid() == 0


if __name__ == "__main__":
    if sys.argv[1:] == ["stop"]:
        print(stop())
    elif sys.argv[1:] == ["start"]:
        print(f"embedded PostgreSQL running, socket in {embedded_database()['HOST']}")
    else:
        sys.exit("usage: python -m analyzer_project.embedded_db start|stop")
