"""The API's endpoints, free of HTTP plumbing: path, key, body and fault in, answer out.

``generateContent`` is the one that draws. The order of its checks follows what the real
service appears to do (docs/simulator.md says where that is a guess): the key, then the
rate limit, then the body's JSON and field names, then the model, then the request's
rules; a fault that stands for a server or network failure answers before any of that, a
fault that stands for a model's reply shapes a valid request's reply. ``models.list`` and
``models.get`` check the key the same way and answer from ``listing``; faults, latency and
the rate limit are for generateContent. The batch endpoints are routed here and answered
by ``batches``, which draws each of a batch's requests with ``draw``.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from . import streaming
from .faults import Fault
from .listing import get_model, image_model, list_page
from .rejections import JSON_TYPE, Rejection, invalid
from .replies import (
    UNDECODABLE_IMAGE,
    blocked_reply,
    empty_reply,
    image_reply,
    refusal_reply,
    text_reply,
)
from .schema import normalise
from .validate import ImageRequest, read_request

# The API's limit on a whole inline request: 100 MB since 2026-01-12 (REAL_REPLIES.md,
# "Thought signatures"; 20 MB before). Read as MiB, as the old limit's message counted.
MAX_REQUEST_BYTES = 100 * 1024 * 1024
GENERATE = "generateContent"
STREAM = "streamGenerateContent"
SSE_TYPE = "text/event-stream"
LIST = "list"
GET = "get"
BATCH_CREATE = "batchGenerateContent"
BATCH_LIST = "batches.list"
BATCH_GET = "batches.get"
BATCH_CANCEL = "batches.cancel"
BATCH_DELETE = "batches.delete"
BATCH_ENDPOINTS = (BATCH_CREATE, BATCH_LIST, BATCH_GET, BATCH_CANCEL, BATCH_DELETE)
_ROUTES = (
    ("POST", GENERATE, re.compile(r"/(v1|v1beta)/models/([^/:]+):generateContent")),
    ("POST", STREAM, re.compile(r"/(v1|v1beta)/models/([^/:]+):streamGenerateContent")),
    ("GET", LIST, re.compile(r"/(v1|v1beta)/models()")),
    ("GET", GET, re.compile(r"/(v1|v1beta)/models/([^/:]+)")),
    ("POST", BATCH_CREATE, re.compile(r"/(v1|v1beta)/models/([^/:]+):batchGenerateContent")),
    ("GET", BATCH_LIST, re.compile(r"/(v1|v1beta)/batches()")),
    ("GET", BATCH_GET, re.compile(r"/(v1|v1beta)/batches/([^/:]+)")),
    ("POST", BATCH_CANCEL, re.compile(r"/(v1|v1beta)/batches/([^/:]+):cancel")),
    ("DELETE", BATCH_DELETE, re.compile(r"/(v1|v1beta)/batches/([^/:]+)")),
)
_MODEL_ENDPOINTS = (GENERATE, STREAM, LIST, GET, BATCH_CREATE)
_NO_KEY = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)
_BAD_KEY = "API key not valid. Please pass a valid API key."


@dataclass(frozen=True)
class Answer:
    """One HTTP answer; ``cut`` sends half the body and closes the connection.

    A stream's answer holds its SSE ``events`` (sent one by one, spread over the
    simulator's ``stream_seconds``); with ``cut``, half of ``body`` (the next event) follows
    them before the connection closes."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str = JSON_TYPE
    cut: bool = False
    events: tuple[bytes, ...] = ()

    @classmethod
    def json(cls, status: int, data: Any) -> Answer:
        return cls(status, json.dumps(data, indent=2, ensure_ascii=False).encode())

    @classmethod
    def error(cls, rejection: Rejection) -> Answer:
        return cls(rejection.code, rejection.body(), rejection.headers)


@dataclass(frozen=True)
class Route:
    """Which endpoint a request is for (``GENERATE``, ``LIST``, ``GET`` or a batch one)."""

    endpoint: str
    api_version: str  # "v1" or "v1beta"
    model: str  # the model id in the path; "" for LIST and the batches/ paths
    batch: str = ""  # the batch id in a batches/{id} path


def route(method: str, path: str) -> Route | None:
    """The endpoint that ``method`` on ``path`` reaches, ``None`` for one the simulator lacks."""
    for route_method, endpoint, pattern in _ROUTES:
        match = pattern.fullmatch(path)
        if match and method == route_method:
            name = unquote(match.group(2))
            if endpoint in _MODEL_ENDPOINTS:
                return Route(endpoint, match.group(1), name)
            return Route(endpoint, match.group(1), "", batch=name)
    return None


def models_endpoint(
    target: Route, key: str, expected_key: str | None, query: dict[str, list[str]]
) -> Answer:
    """The answer to ``models.list`` or ``models.get``, after the same key check as generating."""
    try:
        check_key(key, expected_key)
        if target.endpoint == LIST:
            page = list_page(_first(query, "pageSize"), _first(query, "pageToken"))
            return Answer.json(200, page)
        return Answer.json(200, get_model(target.model, target.api_version))
    except Rejection as rejection:
        return Answer.error(rejection)


def _first(query: dict[str, list[str]], name: str) -> str | None:
    return query.get(name, [None])[0]


def generate_content(
    api_version: str,
    model_id: str,
    key: str,
    expected_key: str | None,
    body: bytes,
    fault: Fault | None,
    *,
    admit: Callable[[str], None],
    sample: Callable[[bytes], int],
    signature_bytes: int | None = None,
) -> Answer:
    """The answer to one generateContent request, with ``fault`` (if any) applied.

    ``admit`` raises the rate limit's 429 for a request over the limit (after the key
    check, as a caller without a key is no one's quota). ``sample`` counts repeats of the
    same request (by its fingerprint: the normalised body and the model), so that each
    repeat draws anew; it is asked only for a request that is drawn, so a refused request
    (a 429 retried, a 400 corrected) does not use up a take. ``signature_bytes`` sizes
    the reply's thought signatures (``None``: each model's realistic size).
    """
    if fault is not None and fault.kind == "http":
        return Answer.error(fault_rejection(fault))
    if fault is not None and fault.kind == "malformed_json":
        return Answer(200, b'{"candidates": [{"content": <html>Service hiccup</html>')
    try:
        check_key(key, expected_key)
        admit(model_id)
        reply = draw(api_version, model_id, body, fault, sample, signature_bytes)
        answer = Answer.json(200, reply)
    except Rejection as rejection:
        answer = Answer.error(rejection)
    if fault is not None and fault.kind == "drop":
        return Answer(answer.status, answer.body, answer.headers, answer.content_type, cut=True)
    return answer


def stream_content(
    api_version: str,
    model_id: str,
    key: str,
    expected_key: str | None,
    body: bytes,
    fault: Fault | None,
    *,
    admit: Callable[[str], None],
    sample: Callable[[bytes], int],
    signature_bytes: int | None = None,
) -> Answer:
    """The answer to one streamGenerateContent request: the same checks and reply as
    ``generate_content`` (an error before the stream is a plain HTTP error, which the
    SDK's retry sees), told as SSE events; ``cut_stream`` and ``stream_error`` faults
    break it after some events, ``drop`` in the middle of the first."""
    whole = generate_content(
        api_version, model_id, key, expected_key, body, fault,
        admit=admit, sample=sample, signature_bytes=signature_bytes,
    )  # fmt: skip
    if whole.status != 200:
        return whole
    if fault is not None and fault.kind == "malformed_json":
        return _sse(b"data: " + whole.body + b"\r\n\r\n")
    spec = image_model(model_id, api_version)
    reply = json.loads(whole.body)
    told = [streaming.encode(e) for e in streaming.events(reply, spec, signature_bytes)]
    kind = fault.kind if fault is not None else ""
    if kind == "drop":
        return Answer(200, told[0], content_type=SSE_TYPE, cut=True)
    if fault is None or fault.after is None:
        return _sse(*told)
    after = min(fault.after, len(told) - 1)
    if kind == "cut_stream":
        return Answer(200, told[after], content_type=SSE_TYPE, cut=True, events=tuple(told[:after]))
    error = json.loads(fault_rejection(fault).body())  # stream_error
    return _sse(*told[:after], streaming.encode(error))


def _sse(*events: bytes) -> Answer:
    return Answer(200, b"", content_type=SSE_TYPE, events=events)


def draw(
    api_version: str,
    model_id: str,
    body: bytes,
    fault: Fault | None,
    sample: Callable[[bytes], int],
    signature_bytes: int | None = None,
) -> dict[str, Any]:
    """The reply body to a request whose key was accepted: checked, then drawn.

    The batch API answers each of its requests with this too, so a request in a batch
    gets exactly the reply (or the ``Rejection``) it would get on its own.
    """
    if len(body) > MAX_REQUEST_BYTES:
        raise payload_too_large()
    normalised = normalise(parse_json(body), api_version)
    spec = image_model(model_id, api_version)
    request = read_request(normalised, spec, api_version)
    return _reply(request, fault, sample(request.fingerprint), signature_bytes)


def payload_too_large(limit: int = MAX_REQUEST_BYTES) -> Rejection:
    """The API's answer to a request body over ``limit`` bytes."""
    return invalid(f"Request payload size exceeds the limit: {limit} bytes.")


def check_key(key: str, expected_key: str | None) -> None:
    """The API's answers to a missing key (403) and, when one is configured, a wrong one (400)."""
    if not key:
        raise Rejection(403, _NO_KEY)
    if expected_key is not None and key != expected_key:
        raise Rejection(400, _BAD_KEY, details=_bad_key_details())


def parse_json(body: bytes) -> Any:
    """The body as JSON; an empty body reads as ``{}``, which then lacks ``contents``."""
    if not body.strip():
        return {}
    try:
        return json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise invalid("Invalid JSON payload received. Invalid UTF-8 in the body.") from exc
    except json.JSONDecodeError as exc:
        raise invalid(
            "Invalid JSON payload received. Unexpected token "
            f"at line {exc.lineno}, column {exc.colno}."
        ) from exc


def _reply(
    request: ImageRequest, fault: Fault | None, sample: int, signature_bytes: int | None
) -> dict[str, Any]:
    if fault is None:
        return image_reply(request, sample=sample, signature_bytes=signature_bytes)
    if fault.kind == "replay":
        return copy.deepcopy(fault.reply or {})
    if fault.kind == "block":
        return blocked_reply(request, fault.reason or "SAFETY")
    if fault.kind == "finish":
        return refusal_reply(request, fault.reason or "OTHER")
    if fault.kind == "text_only":
        return text_reply(request, fault.text or "", signature_bytes=signature_bytes)
    if fault.kind == "empty_candidates":
        return empty_reply(request)
    if fault.kind == "bad_image":
        return image_reply(
            request, sample=sample, image=UNDECODABLE_IMAGE, signature_bytes=signature_bytes
        )
    # slow and drop change delivery, not the reply
    return image_reply(request, sample=sample, signature_bytes=signature_bytes)


def fault_rejection(fault: Fault) -> Rejection:
    """The error an ``http`` fault answers with; ``retry_after`` adds RetryInfo and Retry-After."""
    status = fault.status or 500
    if fault.retry_after is None:
        return Rejection(status, fault.message)
    seconds = f"{fault.retry_after:g}"
    return Rejection(
        status,
        fault.message,
        details=(
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{seconds}s"},
        ),
        headers=(("Retry-After", seconds),),
    )


def _bad_key_details() -> tuple[dict[str, Any], ...]:
    return (
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "API_KEY_INVALID",
            "domain": "googleapis.com",
            "metadata": {"service": "generativelanguage.googleapis.com"},
        },
        {
            "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
            "locale": "en-US",
            "message": _BAD_KEY,
        },
    )
