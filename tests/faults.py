"""A TCP proxy that fails like a network: between the SDK and the test Postgres.

Example::

    with Proxy(db_url) as proxy:
        run = mlt.start_session(..., database_url=proxy.url)
        proxy.hang()     # nothing moves any more; sockets stay open (no RST, no FIN)
        proxy.resume()   # what was held goes through, in order
        proxy.reset()    # every open connection is closed with an RST
        proxy.down()     # reset, and new connections are refused (RST) until resume()

The proxy listens on 127.0.0.1 and connects to the server of ``db_url`` (TCP, or its Unix socket
when the URL's host is a directory). While hung it still accepts connections (as a kernel would)
but forwards nothing in either direction; data stays in the socket buffers, so nothing is lost
when it resumes.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import struct
import threading
from types import TracebackType
from typing import NoReturn

from psycopg.conninfo import conninfo_to_dict, make_conninfo

_POLL = 0.02


class Proxy:
    """See the module docstring. ``url`` is ``db_url`` pointed at the proxy."""

    def __init__(self, db_url: str) -> None:
        params = conninfo_to_dict(db_url)
        host = str(params.get("host") or "localhost")
        port = int(params.get("port") or 5432)
        if host.startswith("/"):
            self._upstream: tuple[int, object] = (socket.AF_UNIX, f"{host}/.s.PGSQL.{port}")
        else:
            self._upstream = (socket.AF_INET, (host, port))
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.settimeout(_POLL)
        port_here = self._listener.getsockname()[1]
        self.url = make_conninfo(db_url, host="127.0.0.1", port=str(port_here), sslmode="disable")
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._running = threading.Event()  # set: forwarding; clear: hung
        self._running.set()
        self._refusing = False
        self._closed = False
        self._threads: list[threading.Thread] = []
        self._start(self._accept, "proxy-accept")

    def _start(self, target: object, name: str, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    # -- faults -----------------------------------------------------------------------------

    def hang(self) -> None:
        """Stop forwarding in both directions; every socket stays open."""
        self._running.clear()

    def resume(self) -> None:
        """Forward again (what waited in the buffers goes first) and accept connections."""
        self._refusing = False
        self._running.set()

    def reset(self) -> None:
        """Close every open connection with an RST (SO_LINGER 0) on both sides."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for sock in pair:
                _abort(sock)

    def accept_while_hung(self) -> None:
        """After down(): accept connections again, but (while hung) forward nothing on them."""
        self._refusing = False

    def down(self) -> None:
        """The server is gone: reset every connection and refuse new ones until resume()."""
        self._refusing = True
        self.reset()

    @property
    def connections(self) -> int:
        """Connections open through the proxy now."""
        with self._lock:
            return len(self._pairs)

    def close(self) -> None:
        self._closed = True
        self._running.set()
        self.reset()
        with contextlib.suppress(OSError):
            self._listener.close()
        for thread in self._threads:
            thread.join(2)

    def __enter__(self) -> Proxy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- forwarding -------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self._refusing:
                _abort(client)
                continue
            family, address = self._upstream
            server = socket.socket(family, socket.SOCK_STREAM)
            try:
                server.connect(address)
            except OSError:
                client.close()
                server.close()
                continue
            with self._lock:
                self._pairs.append((client, server))
            self._start(self._pump, "proxy-pump", client, server)

    def _pump(self, client: socket.socket, server: socket.socket) -> None:
        peer = {client: server, server: client}
        try:
            while not self._closed:
                if not self._running.wait(_POLL):
                    continue  # hung: leave the data in the socket buffers
                try:
                    ready, _, _ = select.select([client, server], [], [], _POLL)
                except (OSError, ValueError):  # closed by reset()
                    return
                for sock in ready:
                    if not self._running.is_set():
                        break  # hung meanwhile: forward nothing more
                    data = sock.recv(65536)
                    if not data:
                        return
                    peer[sock].sendall(data)
        except OSError:
            return
        finally:
            with self._lock:
                if (client, server) in self._pairs:
                    self._pairs.remove((client, server))
            for sock in (client, server):
                with contextlib.suppress(OSError):
                    sock.close()


def _abort(sock: socket.socket) -> None:
    """Close with an RST rather than a FIN."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


class OsProxy:
    """The ``os`` module with some functions replaced, for one module to see (fault injection
    on the spool: ``monkeypatch.setattr(spool_module, "os", OsProxy(write=full_disk))``)."""

    def __init__(self, **overrides: object) -> None:
        self.__dict__.update(overrides)

    def __getattr__(self, name: str) -> object:
        return getattr(os, name)


def full_disk(*_args: object) -> NoReturn:
    """An ``os.write`` on a full disk."""
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
