"""Round trips counted on the wire: a TLS-terminating PostgreSQL proxy in front of
the benchmark's cluster.

A query round trip is a time the client must wait for the server: the number
of requests it has outstanding (a simple Query, an extended-protocol Sync, a
FunctionCall) goes from 0 to more than 0. A pipeline (psycopg's pipeline mode,
many Syncs sent before reading) is one round trip however many statements it
carries, a multi-statement string is one, and so is one call of a server-side
function; connection set-up (TLS, start-up, SCRAM) is counted apart, as
connections. That is what the goals count, and what the server's statement log
cannot tell (it logs each statement of a pipeline).

The proxy presents the cluster's own certificate (same key: the benchmark's
throwaway cluster), so ``sslmode=verify-full`` and SCRAM channel binding work
through it exactly as against the server; between proxy and server it speaks
TLS again, so the server sees every session as TLS (verify's TLS check passes).
Each connection is attributed to the ``application_name`` of its start-up
message.
"""

from __future__ import annotations

import select
import socket
import ssl
import struct
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

SSL_REQUEST, GSS_REQUEST, CANCEL_REQUEST = 80877103, 80877104, 80877102
REQUESTS = frozenset(b"QSF")  # Query, Sync, FunctionCall: each is answered by a ReadyForQuery ('Z') ...
ANSWER = ord("Z")             # (a FunctionCall's answer is 'V' then 'Z': still one Z)
STATEMENTS = frozenset(b"QE")  # Query, Execute


@dataclass(frozen=True)
class Count:
    round_trips: int
    connections: int
    statements: int
    """Statements sent (Query and Execute messages; a multi-statement Query is one), for comparison."""


class _Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.trips: Counter[str] = Counter()
        self.conns: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()

    def snapshot(self) -> tuple[Counter[str], Counter[str], Counter[str]]:
        with self.lock:
            return Counter(self.trips), Counter(self.conns), Counter(self.requests)


class WireCounter:
    """``with WireCounter(host, port, cert, key) as w:`` connect to ``w.port``; ``w.count(mark, app)``."""

    def __init__(self, host: str, port: int, cert: Path, key: Path) -> None:
        self.upstream = (host, port)
        self.server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.server_ctx.load_cert_chain(str(cert), str(key))
        self.client_ctx = ssl.create_default_context()
        self.client_ctx.check_hostname = False
        self.client_ctx.verify_mode = ssl.CERT_NONE  # upstream is our own cluster on loopback
        self.tally = _Tally()
        self.listener = socket.create_server((host, 0))
        self.host, self.port = host, self.listener.getsockname()[1]
        self._stop = False

    def start(self) -> WireCounter:
        threading.Thread(target=self._accept, daemon=True, name="wire-accept").start()
        return self

    def close(self) -> None:
        self._stop = True
        self.listener.close()

    def __enter__(self) -> WireCounter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def mark(self) -> tuple[Counter[str], Counter[str], Counter[str]]:
        return self.tally.snapshot()

    def count(self, since: tuple[Counter[str], Counter[str], Counter[str]], prefix: str) -> Count:
        """What connections whose application_name starts with ``prefix`` did since ``since``."""
        now = self.tally.snapshot()
        return Count(*(sum(n - since[i][app] for app, n in now[i].items() if app.startswith(prefix))
                       for i in range(3)))

    # ----- relaying -------------------------------------------------------------------
    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(client,), daemon=True, name="wire-session").start()

    def _session(self, client: socket.socket) -> None:
        upstream = None
        try:
            first = _read_startup(client)
            code = struct.unpack("!I", first[4:8])[0]
            if code == GSS_REQUEST:  # no GSSAPI here: say no, the client continues with SSL
                client.sendall(b"N")
                first = _read_startup(client)
                code = struct.unpack("!I", first[4:8])[0]
            upstream = socket.create_connection(self.upstream)
            if code != SSL_REQUEST:  # a cancel request or a plain start-up: relay as is, uncounted
                upstream.sendall(first)
                _pipe_raw(client, upstream)
                return
            client.sendall(b"S")
            tls_client = self.server_ctx.wrap_socket(client, server_side=True)
            upstream.sendall(first)
            if upstream.recv(1) != b"S":
                return
            tls_up = self.client_ctx.wrap_socket(upstream)
            startup = _read_startup(tls_client)
            tls_up.sendall(startup)
            app = _application_name(startup)
            with self.tally.lock:
                self.tally.conns[app] += 1
            _Session(self.tally, app, tls_client, tls_up).run()
        except (OSError, ssl.SSLError, struct.error, ValueError):
            pass
        finally:
            client.close()
            if upstream is not None:
                upstream.close()


class _Session:
    """One authenticated connection: relay both ways in one thread (an SSL object is not shared
    between threads), counting the times the client waits for the server."""

    def __init__(self, tally: _Tally, app: str, client: ssl.SSLSocket, upstream: ssl.SSLSocket) -> None:
        self.tally, self.app = tally, app
        self.peer = {client: upstream, upstream: client}
        self.buf = {client: b"", upstream: b""}
        self.client = client
        self.outstanding = 0

    def run(self) -> None:
        while True:
            ready = [s for s in self.peer if s.pending()] or select.select(list(self.peer), [], [], 5.0)[0]
            for src in ready:
                data = src.recv(65536)
                if not data:
                    return
                self._see(src, data)
                self.peer[src].sendall(data)  # after counting: the answer cannot be seen before the request

    def _see(self, src: ssl.SSLSocket, data: bytes) -> None:
        buf = self.buf[src] + data
        while len(buf) >= 5:
            length = struct.unpack("!I", buf[1:5])[0]
            if len(buf) < 1 + length:
                break
            (self._from_client if src is self.client else self._from_server)(buf[0])
            buf = buf[1 + length:]
        self.buf[src] = buf

    def _from_client(self, kind: int) -> None:
        if kind in STATEMENTS:
            with self.tally.lock:
                self.tally.requests[self.app] += 1
        if kind not in REQUESTS:
            return
        if self.outstanding == 0:
            with self.tally.lock:
                self.tally.trips[self.app] += 1
        self.outstanding += 1

    def _from_server(self, kind: int) -> None:
        if kind == ANSWER:
            self.outstanding = max(0, self.outstanding - 1)


def _read_exact(sock: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise ValueError("connection closed during start-up")
        out += chunk
    return out


def _read_startup(sock: socket.socket) -> bytes:
    head = _read_exact(sock, 4)
    length = struct.unpack("!I", head)[0]
    if not 8 <= length <= 10_000:
        raise ValueError("not a PostgreSQL start-up packet")
    return head + _read_exact(sock, length - 4)


def _application_name(startup: bytes) -> str:
    fields = startup[8:].split(b"\0")
    pairs = dict(zip(fields[::2], fields[1::2], strict=False))  # a trailing terminator is unpaired
    return pairs.get(b"application_name", b"").decode(errors="replace")


def _pipe_raw(a: socket.socket, b: socket.socket) -> None:
    def one(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass
    t = threading.Thread(target=one, args=(b, a), daemon=True)
    t.start()
    one(a, b)
    t.join(timeout=5)
