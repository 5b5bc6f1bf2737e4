"""The HTTP side: a threaded loopback server, the ``Simulator`` that owns it, and its recordings.

The server speaks HTTP/1.1 with keep-alive and always sends Content-Length, because the
SDK (httpx with a connection pool) reuses connections. Each API request is recorded (the
key redacted) and answered by ``endpoint``; a generateContent request also takes at most one
queued fault and waits out the latency. Paths under ``/_simulator/`` are a small control
surface for a simulator running in another process.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import socket
import threading
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .endpoint import GENERATE, Answer, Route, generate_content, models_endpoint, route
from .faults import Fault, FaultQueue
from .rejections import Rejection

_CONTROL = "/_simulator/"
_SECRET_HEADERS = ("x-goog-api-key", "authorization")
REDACTED = "<redacted>"


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the simulator received it, minus the API key."""

    method: str
    path: str  # as sent, with a ``key=`` query value redacted
    api_version: str  # "v1" or "v1beta"; "" for a path the simulator does not serve
    model: str  # the id in the path ("" for models.list and paths it does not serve)
    headers: dict[str, str]  # lower-case names; the key's value is "<redacted>"
    body: dict[str, Any] | None  # the JSON object as sent (original spellings), if it was one
    size: int  # bytes of the body


class Simulator:
    """An offline stand-in for the Gemini REST API on 127.0.0.1, for tests, demos and teaching.

    ``api_key=None`` accepts any non-empty key; a string accepts only that key and answers
    others as the API answers an invalid key. ``latency`` (seconds, settable at any time)
    delays every generateContent answer. ``port=0`` picks a free port. ``record_limit``
    keeps only that many recent requests (bodies hold whole chat histories with images, so
    a long-lived simulator in a notebook must not keep them all); ``None`` keeps every one.
    """

    def __init__(
        self,
        api_key: str | None = None,
        latency: float = 0.0,
        *,
        port: int = 0,
        record_limit: int | None = None,
    ) -> None:
        self.api_key = api_key
        self.latency = latency
        self._port = port
        self._faults = FaultQueue()
        self._requests: deque[RecordedRequest] = deque(maxlen=record_limit)
        self._samples: Counter[bytes] = Counter()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Simulator:
        """Bind and serve in a daemon thread; starting a running simulator does nothing."""
        with self._lock:
            if self._server is not None:
                return self
            self._stopping.clear()
            server = _Server(("127.0.0.1", self._port), _Handler)
            server.simulator = self
            self._thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.1},
                name=f"nb_banana-simulator:{server.server_address[1]}",
                daemon=True,
            )
            self._server = server
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close every connection and free the port; safe to call twice."""
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        server.close_connections()
        if thread is not None:
            thread.join(timeout=5)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: the ``base_url`` to give the SDK."""
        server = self._server
        if server is None:
            raise RuntimeError("the simulator is not running: call start() first")
        return f"http://127.0.0.1:{server.server_address[1]}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def inject(self, fault: Fault, times: int = 1) -> None:
        """Answer the next ``times`` generateContent requests with ``fault`` (after any queued)."""
        self._faults.push(fault, times)

    def clear_faults(self) -> None:
        self._faults.clear()

    @property
    def faults(self) -> list[Fault]:
        """The faults still queued, next first."""
        return self._faults.pending()

    @property
    def requests(self) -> list[RecordedRequest]:
        """The API requests received, oldest first (control requests are not kept)."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def reset(self) -> None:
        """Forget the recorded requests and samples, and drop queued faults."""
        self.clear_requests()
        self._faults.clear()
        with self._lock:
            self._samples.clear()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self.running else "stopped"
        return f"<Simulator {where}>"

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _next_sample(self, model: str, body: bytes) -> int:
        """1 for the first time this exact request arrives, 2 the next time, and so on.

        The real model draws a new picture for each call; the simulator draws a visibly
        different one per repeat (``-n 3``, ``--fresh``), and the same ones in every run.
        """
        key = hashlib.sha256(model.encode() + b"\0" + body).digest()
        with self._lock:
            self._samples[key] += 1
            return self._samples[key]

    def _pause(self, seconds: float) -> bool:
        """Wait ``seconds`` unless the simulator stops first; whether it is still running."""
        if seconds > 0:
            self._stopping.wait(seconds)
        return not self._stopping.is_set()


_shared: Simulator | None = None
_shared_lock = threading.Lock()
SHARED_RECORD_LIMIT = 100


def shared() -> Simulator:
    """The process's own running simulator (what ``%banana offline`` uses); one per process.

    It keeps only the last ``SHARED_RECORD_LIMIT`` requests: it lives as long as the kernel.
    """
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Simulator(record_limit=SHARED_RECORD_LIMIT)
        return _shared.start()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    simulator: Simulator

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def track(self, connection: socket.socket, open_: bool) -> None:
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        """Wake handler threads waiting on idle keep-alive connections, so they end."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet: a client that hangs up is normal for a test server, not an error."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nb_banana-simulator"
    sys_version = ""
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        self.server.track(self.connection, False)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: a notebook or test run should not fill up with access logs."""

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        simulator = self.server.simulator
        body = self._read_body()
        path = urlsplit(self.path).path
        try:
            if path.startswith(_CONTROL):
                answer = _control(simulator, self.command, path, body)
            else:
                answer = self._api(simulator, path, body)
            if answer is not None:
                self._send(answer)
        except Exception as exc:  # a bug must answer 500, not leave the client hanging
            self._send(Answer.error(Rejection(500, f"Simulator error: {exc!r}")))

    def _api(self, simulator: Simulator, path: str, body: bytes) -> Answer | None:
        target = route(self.command, path)
        simulator._record(self._recording(target, body))
        if target is None:
            return Answer.error(
                Rejection(
                    404,
                    f"The simulator has no {self.command} {path}: it serves "
                    "POST /v1beta/models/{model}:generateContent, GET /v1beta/models and "
                    "GET /v1beta/models/{model} (and the same under /v1/).",
                )
            )
        if target.endpoint != GENERATE:
            query = parse_qs(urlsplit(self.path).query)
            return models_endpoint(target, self._key(), simulator.api_key, query)
        return self._generate(simulator, target, body)

    def _generate(self, simulator: Simulator, target: Route, body: bytes) -> Answer | None:
        version, model = target.api_version, target.model
        started = time.monotonic()
        fault = simulator._faults.pop()
        delay = simulator.latency
        if fault is not None and fault.kind == "slow":
            delay += fault.seconds or 0.0
        # Latency is the time the "model" takes to answer, drawing included: a remote model
        # does not slow down because the client's machine has few cores.
        sample = simulator._next_sample(model, body)
        answer = generate_content(
            version, model, self._key(), simulator.api_key, body, fault, sample=sample
        )
        if not simulator._pause(delay - (time.monotonic() - started)):
            self.close_connection = True
            return None
        return answer

    def _key(self) -> str:
        key = self.headers.get("x-goog-api-key", "")
        if not key:
            key = parse_qs(urlsplit(self.path).query).get("key", [""])[0]
        return key

    def _recording(self, target: Route | None, body: bytes) -> RecordedRequest:
        headers = {name.lower(): value for name, value in self.headers.items()}
        for name in _SECRET_HEADERS:
            if name in headers:
                headers[name] = REDACTED
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        return RecordedRequest(
            method=self.command,
            path=re.sub(r"(?<=[?&]key=)[^&]*", REDACTED, self.path),
            api_version=target.api_version if target else "",
            model=target.model if target else "",
            headers=headers,
            body=parsed if isinstance(parsed, dict) else None,
            size=len(body),
        )

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            return self._read_chunked()
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes:
        chunks = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline().strip():  # trailers, up to the blank line
                    pass
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _send(self, answer: Answer) -> None:
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            for name, value in answer.headers:
                self.send_header(name, value)
            self.end_headers()
            if not answer.cut:
                self.wfile.write(answer.body)
                return
            self.wfile.write(answer.body[: len(answer.body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:  # the client went away; nothing left to tell it
            self.close_connection = True


def _control(simulator: Simulator, method: str, path: str, body: bytes) -> Answer:
    """``/_simulator/faults`` (GET, POST, DELETE) and ``/_simulator/requests`` (GET, DELETE)."""
    if path == f"{_CONTROL}faults" and method == "POST":
        try:
            data = json.loads(body or b"{}")
            times = int(data.pop("times", 1))
            simulator.inject(Fault.from_json(data), times)
        except (ValueError, TypeError, AttributeError) as exc:
            return Answer.error(Rejection(400, f"Cannot queue that fault: {exc}"))
        return Answer.json(200, {"queued": times, "pending": len(simulator.faults)})
    if path == f"{_CONTROL}faults" and method == "GET":
        return Answer.json(200, [fault.to_json() for fault in simulator.faults])
    if path == f"{_CONTROL}faults" and method == "DELETE":
        simulator.clear_faults()
        return Answer.json(200, {"pending": 0})
    if path == f"{_CONTROL}requests" and method == "GET":
        return Answer.json(200, [asdict(request) for request in simulator.requests])
    if path == f"{_CONTROL}requests" and method == "DELETE":
        simulator.clear_requests()
        return Answer.json(200, {"requests": 0})
    return Answer.error(Rejection(404, f"The simulator's control surface has no {method} {path}."))
