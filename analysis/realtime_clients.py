"""A cap on the realtime windows one client has open at once in this process."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager


class ClientBusyError(Exception):
    """The client already has as many realtime windows open as it may."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"{limit} realtime windows already open")
        self.limit = limit


class ClientWindows:
    """Count each client's open windows; refuse one over the limit, so no client holds them all."""

    def __init__(self) -> None:
        self._open: Counter[str] = Counter()
        self._lock = threading.Lock()

    @contextmanager
    def hold(self, client: str, *, limit: int) -> Iterator[None]:
        """Hold one of `client`'s `limit` windows for the block, or raise ClientBusyError."""
        with self._lock:
            if self._open[client] >= limit:
                raise ClientBusyError(limit)
            self._open[client] += 1
        try:
            yield
        finally:
            with self._lock:
                self._open[client] -= 1
                if not self._open[client]:
                    del self._open[client]  # forget clients that left: memory stays small

    def open_windows(self, client: str) -> int:
        with self._lock:
            return self._open[client]


CLIENT_WINDOWS = ClientWindows()  # of this process, beside realtime.SLOTS
