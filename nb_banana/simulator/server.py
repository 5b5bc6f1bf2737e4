"""The HTTP side: a threaded loopback server, the ``Simulator`` that owns it, and its recordings.

The server speaks HTTP/1.1 with keep-alive and always sends Content-Length, because the
SDK (httpx with a connection pool) reuses connections. Each API request is recorded (the
key redacted) and answered by ``endpoint`` (or ``batches``); a generateContent request also
takes at most one queued fault, passes the rate limit and waits out the latency, each in
its own thread, so concurrent requests wait their latencies side by side. Paths under
``/_simulator/`` are a small control surface for a simulator running in another process.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import signatures, vertex
from .batches import batch_endpoint, inlined_response
from .batchstore import BatchJobs, Job
from .endpoint import (
    BATCH_ENDPOINTS,
    GENERATE,
    SSE_TYPE,
    STREAM,
    Answer,
    Route,
    generate_content,
    models_endpoint,
    route,
    stream_content,
)
from .faults import Fault, FaultQueue
from .ratelimit import RateLimit, RateLimiter
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
    delays every generateContent answer; ``model_latency`` (``{model id: seconds}``) sets
    it for some models instead. ``signature_bytes`` sizes thought signatures (``None``:
    each model's realistic size, about 1.1 MB of base64 on Pro). ``port=0`` picks a free
    port. ``record_limit``
    keeps only that many recent requests (bodies hold whole chat histories with images, so
    a long-lived simulator in a notebook must not keep them all); ``None`` keeps every one.
    ``rate_limit=(requests, seconds)`` limits generateContent per model (settable at any
    time, as ``rate_limit``). ``state_dir`` keeps batch jobs in that folder, so that a new
    simulator on it answers for them; without it they live in memory. ``stream_seconds``
    (settable at any time) spreads a streamed reply's events over that many seconds after
    the first, so a client can be watched showing them as they come.
    """

    def __init__(
        self,
        api_key: str | None = None,
        latency: float = 0.0,
        *,
        port: int = 0,
        record_limit: int | None = None,
        rate_limit: tuple[int, float] | None = None,
        state_dir: str | os.PathLike[str] | None = None,
        signature_bytes: int | None = None,
        model_latency: dict[str, float] | None = None,
    ) -> None:
        self.api_key = api_key
        self.latency = latency
        self.model_latency: dict[str, float] = dict(model_latency or {})
        self.stream_seconds = 0.0
        self.signature_bytes = signature_bytes
        self._port = port
        self._faults = FaultQueue()
        self._requests: deque[RecordedRequest] = deque(maxlen=record_limit)
        self._samples: Counter[bytes] = Counter()
        self._limiter = RateLimiter()
        self.rate_limit = rate_limit
        folder = None if state_dir is None else Path(state_dir) / "batches"
        self._batches = BatchJobs(folder, self._respond_in_batch)
        # Vertex AI's side: tokens issued, the one project allowed, the API's state.
        self.vertex = vertex.VertexAccess()
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
            self._batches.start()
        return self

    def stop(self) -> None:
        """Stop serving, close every connection and free the port; safe to call twice."""
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is None:
            return
        self._stopping.set()
        self._batches.stop()
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
        """Answer the next ``times`` generateContent requests with ``fault`` (after any queued).

        A batch created meanwhile takes faults too, one for each of its requests in order:
        an ``http`` fault makes that request's ``error``, a reply-shaped one (``block``,
        ``finish``, ...) its ``response``; ``slow``, ``drop`` and ``malformed_json`` have
        no effect inside a batch.
        """
        self._faults.push(fault, times)

    def clear_faults(self) -> None:
        self._faults.clear()

    def replay(self, reply: dict[str, Any], times: int = 1) -> None:
        """Answer the next ``times`` valid generateContent requests with ``reply`` verbatim
        (a recorded ``GenerateContentResponse``), after any queued faults."""
        self.inject(Fault.replay(reply), times)

    @property
    def signature_bytes(self) -> int | None:
        """The decoded size of every thought signature issued from now on; ``None`` (the
        default) for each model's realistic size (``signatures.realistic_size``).
        Signatures of any size verify, so a history keeps working when this changes."""
        return self._signature_bytes

    @signature_bytes.setter
    def signature_bytes(self, size: int | None) -> None:
        if size is not None and size < signatures.MIN_BYTES:
            raise ValueError(f"signature_bytes must be at least {signatures.MIN_BYTES}")
        self._signature_bytes = size

    def latency_for(self, model: str) -> float:
        """Seconds a generateContent answer of ``model`` takes: its ``model_latency``, else
        ``latency``."""
        return self.model_latency.get(model, self.latency)

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

    @property
    def rate_limit(self) -> tuple[int, float] | None:
        """``(requests, seconds)``: at most that many generateContent requests per model in
        any window of that many seconds; ``None`` (the default) for no limit."""
        limit = self._limiter.limit
        return None if limit is None else (limit.requests, limit.window)

    @rate_limit.setter
    def rate_limit(self, limit: tuple[int, float] | None) -> None:
        self._limiter.limit = None if limit is None else RateLimit(limit[0], float(limit[1]))

    @property
    def rate_limited(self) -> int:
        """How many generateContent requests the rate limit answered with 429 (since the
        last ``reset``); injected ``Fault.http(429)`` answers are not counted."""
        return self._limiter.refused

    @property
    def batch_timing(self) -> tuple[float, float]:
        """``(pending, running)``: the seconds a new batch job spends in each state before
        it succeeds (default ``(0.5, 1.0)``). A job keeps the timing it was created with."""
        return self._batches.timing

    @batch_timing.setter
    def batch_timing(self, timing: tuple[float, float]) -> None:
        self._batches.timing = timing

    def fail_next_batch(self, message: str = "The batch failed (injected).") -> None:
        """Make the next batch job created end ``JOB_STATE_FAILED`` instead of succeeding."""
        self._batches.fail_next(message)

    @property
    def state_dir(self) -> Path | None:
        """The folder batch jobs are kept in (under ``batches/``), ``None`` for memory only."""
        folder = self._batches.folder
        return None if folder is None else folder.parent

    def reset(self) -> None:
        """Start afresh: forget the recorded requests, samples and batch jobs (their files
        too), drop queued faults, lift the rate limit, and restore the batch timing."""
        self.clear_requests()
        self._faults.clear()
        self._limiter.reset()
        self._batches.clear()
        self.vertex.reset()
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

    def _next_sample(self, fingerprint: bytes) -> int:
        """1 for the first time this request (``ImageRequest.fingerprint``: its normalised
        body and model) is drawn, 2 the next time, and so on, live or in a batch.

        The real model draws a new picture for each call; the simulator draws a visibly
        different one per repeat (``-n 3``, ``--fresh``), and the same ones in every run.
        """
        with self._lock:
            self._samples[fingerprint] += 1
            return self._samples[fingerprint]

    def _respond_in_batch(self, job: Job, entry: dict[str, Any]) -> dict[str, Any]:
        """One request of a batch, drawn as generateContent draws it (takes counted alike)."""
        return inlined_response(job, entry, self._next_sample, self.signature_bytes)

    def _pause(self, seconds: float) -> bool:
        """Wait ``seconds`` unless the simulator stops first; whether it is still running."""
        if seconds > 0:
            self._stopping.wait(seconds)
        return not self._stopping.is_set()


_shared: Simulator | None = None
_shared_lock = threading.Lock()
SHARED_RECORD_LIMIT = 100


def shared(state_dir: str | os.PathLike[str] | None = None) -> Simulator:
    """The process's own running simulator (what ``%banana offline`` uses); one per process.

    It keeps only the last ``SHARED_RECORD_LIMIT`` requests: it lives as long as the kernel.
    ``state_dir`` (taken when it is first started) keeps its batch jobs on disk, so a job
    submitted offline is still there after a kernel restart, as a real one would be.
    """
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Simulator(record_limit=SHARED_RECORD_LIMIT, state_dir=state_dir)
        return _shared.start()


def _quota_refusal(answer: Answer, fault: Fault | None) -> bool:
    """A 429 from the rate limit (not an injected fault, which keeps its latency)."""
    return answer.status == 429 and (fault is None or fault.kind != "http")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # A burst of concurrent calls (``asyncio.gather`` of many) must not overflow the listen
    # backlog (5 by default): a refused connection is retried a second later by the client's
    # TCP stack, which would make concurrent requests look serialised.
    request_queue_size = 128
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
        on_vertex = vertex.route(self.command, path)
        if on_vertex is not None:
            return self._vertex(simulator, on_vertex, body)
        target = route(self.command, path)
        simulator._record(self._recording(target, body))
        if target is None:
            return Answer.error(
                Rejection(
                    404,
                    f"The simulator has no {self.command} {path}: it serves "
                    "POST /v1beta/models/{model}:generateContent (and :streamGenerateContent), "
                    "GET /v1beta/models, "
                    "GET /v1beta/models/{model}, POST /v1beta/models/{model}:"
                    "batchGenerateContent, GET /v1beta/batches, GET and DELETE "
                    "/v1beta/batches/{id}, POST /v1beta/batches/{id}:cancel (and the same "
                    "under /v1/).",
                )
            )
        if target.endpoint in (GENERATE, STREAM):
            return self._generate(simulator, target, body)
        query = parse_qs(urlsplit(self.path).query)
        if target.endpoint in BATCH_ENDPOINTS:
            return batch_endpoint(
                target,
                self._key(),
                simulator.api_key,
                body,
                query,
                simulator._batches,
                simulator._faults,
            )
        return models_endpoint(target, self._key(), simulator.api_key, query)

    def _vertex(
        self, simulator: Simulator, target: vertex.VertexRoute, body: bytes
    ) -> Answer | None:
        """A Vertex AI request (``simulator/vertex.py``): drawn as generateContent draws,
        once its token or key and its project and location pass."""
        as_route = Route(target.endpoint, target.api_version, target.model)
        simulator._record(self._recording(as_route, body))
        if target.endpoint == vertex.TOKEN:
            return simulator.vertex.issue(body)
        try:
            simulator.vertex.check(
                target, self.headers.get("authorization", ""), self._key(), simulator.api_key
            )
        except Rejection as rejection:
            return Answer.error(rejection)
        if target.endpoint == vertex.LIST:
            return Answer.json(200, vertex.model_list())
        try:
            body, output = vertex.take_output_options(body)
        except Rejection as rejection:
            return Answer.error(rejection)
        drawn = Route(STREAM if target.stream else GENERATE, target.drawn_as, target.model)
        answer = self._generate(simulator, drawn, body, key_checked=True)
        return None if answer is None else vertex.vertex_reply(answer, output)

    def _generate(
        self, simulator: Simulator, target: Route, body: bytes, key_checked: bool = False
    ) -> Answer | None:
        """``key_checked``: a Vertex call whose credentials ``_vertex`` has checked."""
        version, model = target.api_version, target.model
        started = time.monotonic()
        fault = simulator._faults.pop()
        delay = simulator.latency_for(model)
        if fault is not None and fault.kind == "slow":
            delay += fault.seconds or 0.0
        # Latency is the time the "model" takes to answer, drawing included: a remote model
        # does not slow down because the client's machine has few cores.
        answer = (stream_content if target.endpoint == STREAM else generate_content)(
            version,
            model,
            "checked" if key_checked else self._key(),
            None if key_checked else simulator.api_key,
            body,
            fault,
            admit=simulator._limiter.admit,
            sample=simulator._next_sample,
            signature_bytes=simulator.signature_bytes,
        )
        if _quota_refusal(answer, fault):
            return answer  # the service refuses over-quota calls at once, before any model
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
                # "Bearer <redacted>": which kind of credential came is worth keeping.
                scheme = headers[name].partition(" ")[0] if " " in headers[name] else ""
                headers[name] = f"{scheme} {REDACTED}".lstrip()
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
        if answer.events or answer.content_type == SSE_TYPE:
            self._send_events(answer)
            return
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

    def _send_events(self, answer: Answer) -> None:
        """A stream: chunked transfer, one chunk per SSE event, spread over the simulator's
        ``stream_seconds``; a ``cut`` answer then declares the next event whole, sends half
        of it and closes the connection, as a dropped connection looks to the client."""
        simulator = self.server.simulator
        gaps = len(answer.events) - 1 + bool(answer.cut)
        pause = simulator.stream_seconds / gaps if gaps > 0 else 0.0
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i, event in enumerate(answer.events):
                if i and not simulator._pause(pause):
                    self.close_connection = True
                    return
                self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
                self.wfile.flush()
            if answer.cut:
                if answer.events:
                    simulator._pause(pause)
                half = answer.body[: len(answer.body) // 2]
                self.wfile.write(b"%x\r\n%s" % (len(answer.body), half))
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:  # the client went away (an interrupt mid-stream)
            self.close_connection = True


def _control(simulator: Simulator, method: str, path: str, body: bytes) -> Answer:
    """``/_simulator/{faults,replay,requests,rate_limit,batches,settings}``: see
    docs/simulator.md."""
    handler = _CONTROLS.get((method, path.removeprefix(_CONTROL)))
    if handler is None:
        return Answer.error(
            Rejection(404, f"The simulator's control surface has no {method} {path}.")
        )
    try:
        data = json.loads(body or b"{}")
        if not isinstance(data, dict):
            raise ValueError("the body must be a JSON object")
        return Answer.json(200, handler(simulator, data))
    except (ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
        return Answer.error(Rejection(400, f"Cannot {method} {path}: {exc}"))


def _queue_fault(simulator: Simulator, data: dict[str, Any]) -> dict[str, Any]:
    times = int(data.pop("times", 1))
    simulator.inject(Fault.from_json(data), times)
    return {"queued": times, "pending": len(simulator.faults)}


def _queue_replay(simulator: Simulator, data: dict[str, Any]) -> dict[str, Any]:
    """``{"reply": {GenerateContentResponse}, "times": 1}``."""
    unknown = set(data) - {"reply", "times"}
    if unknown:
        raise ValueError(f"a replay takes no {', '.join(sorted(unknown))}")
    times = int(data.get("times", 1))
    simulator.replay(data["reply"], times)
    return {"queued": times, "pending": len(simulator.faults)}


def _settings(simulator: Simulator, data: dict[str, Any]) -> dict[str, Any]:
    """``{"latency": s, "model_latency": {id: s}, "signature_bytes": n or null,
    "stream_seconds": s}``."""
    return {
        "stream_seconds": simulator.stream_seconds,
        "latency": simulator.latency,
        "model_latency": dict(simulator.model_latency),
        "signature_bytes": simulator.signature_bytes,
    }


def _change_settings(simulator: Simulator, data: dict[str, Any]) -> dict[str, Any]:
    """Set any of ``_settings``' fields; the others keep their values."""
    unknown = set(data) - {"latency", "model_latency", "signature_bytes", "stream_seconds"}
    if unknown:
        raise ValueError(f"unknown settings {', '.join(sorted(unknown))}")
    if "latency" in data:
        latency = float(data["latency"])
        if latency < 0:
            raise ValueError("latency must be >= 0 seconds")
        simulator.latency = latency
    if "model_latency" in data:
        table = {str(model): float(seconds) for model, seconds in data["model_latency"].items()}
        if any(seconds < 0 for seconds in table.values()):
            raise ValueError("model_latency must be >= 0 seconds")
        simulator.model_latency = table
    if "stream_seconds" in data:
        seconds = float(data["stream_seconds"])
        if seconds < 0:
            raise ValueError("stream_seconds must be >= 0")
        simulator.stream_seconds = seconds
    if "signature_bytes" in data:
        size = data["signature_bytes"]
        simulator.signature_bytes = None if size is None else int(size)
    return _settings(simulator, data)


def _faults(simulator: Simulator, data: dict[str, Any]) -> list[dict[str, Any]]:
    return [fault.to_json() for fault in simulator.faults]


def _clear_faults(simulator: Simulator, data: dict[str, Any]) -> dict[str, Any]:
    simulator.clear_faults()
    return {"pending": 0}


def _requests(simulator: Simulator, data: dict[str, Any]) -> list[dict[str, Any]]:
    return [asdict(request) for request in simulator.requests]


def _clear_requests(simulator: Simulator, data: dict[str, Any]) -> dict[str, Any]:
    simulator.clear_requests()
    return {"requests": 0}


def _rate_limit(simulator: Simulator, data: dict[str, Any]) -> dict[str, Any]:
    """``{"requests": N, "window": W, "rate_limited": count}`` (``null``s without a limit)."""
    requests, window = simulator.rate_limit or (None, None)
    return {"requests": requests, "window": window, "rate_limited": simulator.rate_limited}


def _set_rate_limit(simulator: Simulator, data: dict[str, Any]) -> dict[str, Any]:
    simulator.rate_limit = (data["requests"], data["window"])
    return _rate_limit(simulator, data)


def _lift_rate_limit(simulator: Simulator, data: dict[str, Any]) -> dict[str, Any]:
    simulator.rate_limit = None
    return _rate_limit(simulator, data)


def _batches(simulator: Simulator, data: dict[str, Any]) -> dict[str, Any]:
    """The batch timing and every job's name and state, newest first."""
    now = time.time()
    jobs = [
        {"name": job.name, "displayName": job.display_name, "state": job.state(now)}
        for job in simulator._batches.newest_first()
    ]
    return {"timing": list(simulator.batch_timing), "jobs": jobs}


def _set_batches(simulator: Simulator, data: dict[str, Any]) -> dict[str, Any]:
    """``{"timing": [pending, running]}`` and/or ``{"fail_next": "message"}``."""
    unknown = set(data) - {"timing", "fail_next"}
    if unknown:
        raise ValueError(f"unknown batch settings {', '.join(sorted(unknown))}")
    if "timing" in data:
        simulator.batch_timing = tuple(data["timing"])
    if "fail_next" in data:
        simulator.fail_next_batch(str(data["fail_next"]))
    return _batches(simulator, data)


def _clear_batches(simulator: Simulator, data: dict[str, Any]) -> dict[str, Any]:
    simulator._batches.clear()
    return _batches(simulator, data)


_CONTROLS: dict[tuple[str, str], Callable[[Simulator, dict[str, Any]], Any]] = {
    ("POST", "faults"): _queue_fault,
    ("GET", "faults"): _faults,
    ("DELETE", "faults"): _clear_faults,
    ("POST", "replay"): _queue_replay,
    ("GET", "settings"): _settings,
    ("POST", "settings"): _change_settings,
    ("GET", "requests"): _requests,
    ("DELETE", "requests"): _clear_requests,
    ("GET", "rate_limit"): _rate_limit,
    ("POST", "rate_limit"): _set_rate_limit,
    ("DELETE", "rate_limit"): _lift_rate_limit,
    ("GET", "batches"): _batches,
    ("POST", "batches"): _set_batches,
    ("DELETE", "batches"): _clear_batches,
}
