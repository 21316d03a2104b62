"""An SSE upstream that sends whatever a script yields: hostile input for tests and drills."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        upstream = self.server.upstream
        number = upstream.opened(self.connection)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")  # the body ends when the connection does
        self.end_headers()
        try:
            for piece in upstream.script(number):
                if upstream.stopping.is_set():
                    break
                self.wfile.write(piece)
        except OSError:
            pass  # the client left
        finally:
            upstream.closed(self.connection)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    upstream: ScriptedUpstream


class ScriptedUpstream:
    """Serve GET on 127.0.0.1: connection n (from 1) gets the bytes `script(n)` yields, then EOF."""

    def __init__(self, script: Callable[[int], Iterable[bytes]], *, host: str = "127.0.0.1"):
        self.script = script
        self.connections = 0
        self.stopping = threading.Event()
        self._clients: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._server = _Server((host, 0), _Handler)
        self._server.upstream = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/stream"

    def start(self) -> ScriptedUpstream:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every client connection (unblocking a write in progress)."""
        self.stopping.set()
        self._server.shutdown()
        with self._lock:
            for sock in self._clients:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        self._server.server_close()

    def opened(self, sock: socket.socket) -> int:
        with self._lock:
            self.connections += 1
            self._clients.add(sock)
            return self.connections

    def closed(self, sock: socket.socket) -> None:
        with self._lock:
            self._clients.discard(sock)
