"""An embedded PostgreSQL (the pgserver package) in .data/, for when DATABASE_URL is unset.

Settings then name this package as the database ENGINE: its `base.py` is Django's
PostgreSQL backend, which starts the server when a process first connects. Importing
settings starts nothing, so `manage.py help` or `simulate_stream` never do. The first
process to connect starts it, the others find it running (pgserver serialises this with a
file lock). It keeps running after they exit; `python -m analyzer_project.embedded_db stop`
stops it.
"""

from __future__ import annotations

import os
import threading
import warnings
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent.parent.parent / ".data" / "postgres"
DATABASE_NAME = "stream_analyzer"
USER = "postgres"

_socket_dirs: dict[Path, str] = {}
_starting = threading.Lock()  # the threads of a web process connect at once


def _pgserver():
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset; the fallback it picks is fine.
        warnings.simplefilter("ignore")
        import pgserver

    return pgserver


def socket_dir(data_dir: Path = DATA_DIR) -> str:
    """Start (or find) the embedded server, once per process; return its socket directory."""
    with _starting:
        if data_dir not in _socket_dirs:
            _socket_dirs[data_dir] = _start(data_dir)
        return _socket_dirs[data_dir]


def _start(data_dir: Path) -> str:
    import psycopg

    data_dir.mkdir(parents=True, exist_ok=True)
    server = _pgserver().get_server(data_dir, cleanup_mode=None)
    host = str(server.get_postmaster_info().socket_dir)
    with psycopg.connect(host=host, user=USER, dbname="postgres", autocommit=True) as c:
        exists = c.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME])
        if exists.fetchone() is None:
            c.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    return host


def stop(data_dir: Path = DATA_DIR) -> str:
    """Stop the embedded server if it runs; return what happened."""
    if not (data_dir / "postmaster.pid").exists():
        return "embedded PostgreSQL is not running"
    _pgserver()  # imported quietly first
    from pgserver._commands import pg_ctl

    user = "pgserver" if os.geteuid() == 0 else None
    pg_ctl(["-w", "stop", "-m", "fast"], pgdata=data_dir, user=user)
    return f"embedded PostgreSQL in {data_dir} stopped"
