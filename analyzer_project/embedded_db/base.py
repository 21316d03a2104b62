"""Django's PostgreSQL backend on the embedded server, started by the first connection."""

from __future__ import annotations

from django.db.backends.postgresql import base

from analyzer_project import embedded_db


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self) -> dict:
        if not self.settings_dict["HOST"]:
            # In place, like Django's test database NAME: every connection sharing these
            # settings (the web's threads, the test database's) then finds the socket.
            self.settings_dict["HOST"] = embedded_db.socket_dir()
        return super().get_connection_params()
