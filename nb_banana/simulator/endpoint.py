"""The API's endpoints, free of HTTP plumbing: path, key, body and fault in, answer out.

``generateContent`` is the one that draws. The order of its checks follows what the real
service appears to do (docs/simulator.md says where that is a guess): the key, then the
body's JSON and field names, then the model, then the request's rules; a fault that stands
for a server or network failure answers before any of that, a fault that stands for a
model's reply shapes a valid request's reply. ``models.list`` and ``models.get`` check the
key the same way and answer from ``listing``; faults and latency are for generateContent.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

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

MAX_REQUEST_BYTES = 20 * 1024 * 1024  # the API's limit on a whole inline request
GENERATE = "generateContent"
LIST = "list"
GET = "get"
_ROUTES = (
    ("POST", GENERATE, re.compile(r"/(v1|v1beta)/models/([^/:]+):generateContent")),
    ("GET", LIST, re.compile(r"/(v1|v1beta)/models()")),
    ("GET", GET, re.compile(r"/(v1|v1beta)/models/([^/:]+)")),
)
_NO_KEY = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)
_BAD_KEY = "API key not valid. Please pass a valid API key."


@dataclass(frozen=True)
class Answer:
    """One HTTP answer; ``cut`` sends half the body and closes the connection."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str = JSON_TYPE
    cut: bool = False

    @classmethod
    def json(cls, status: int, data: Any) -> Answer:
        return cls(status, json.dumps(data, indent=2, ensure_ascii=False).encode())

    @classmethod
    def error(cls, rejection: Rejection) -> Answer:
        return cls(rejection.code, rejection.body(), rejection.headers)


@dataclass(frozen=True)
class Route:
    """Which endpoint a request is for: ``GENERATE``, ``LIST`` or ``GET``."""

    endpoint: str
    api_version: str  # "v1" or "v1beta"
    model: str  # "" for LIST


def route(method: str, path: str) -> Route | None:
    """The endpoint that ``method`` on ``path`` reaches, ``None`` for one the simulator lacks."""
    for route_method, endpoint, pattern in _ROUTES:
        match = pattern.fullmatch(path)
        if match and method == route_method:
            return Route(endpoint, match.group(1), unquote(match.group(2)))
    return None


def models_endpoint(
    target: Route, key: str, expected_key: str | None, query: dict[str, list[str]]
) -> Answer:
    """The answer to ``models.list`` or ``models.get``, after the same key check as generating."""
    try:
        _check_key(key, expected_key)
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
    sample: int = 1,
) -> Answer:
    """The answer to one generateContent request, with ``fault`` (if any) applied.

    ``sample`` counts repeats of the same request, so that each repeat draws anew.
    """
    if fault is not None and fault.kind == "http":
        return Answer.error(_http_fault(fault))
    if fault is not None and fault.kind == "malformed_json":
        return Answer(200, b'{"candidates": [{"content": <html>Service hiccup</html>')
    try:
        request = _checked_request(api_version, model_id, key, expected_key, body)
        answer = Answer.json(200, _reply(request, fault, sample))
    except Rejection as rejection:
        answer = Answer.error(rejection)
    if fault is not None and fault.kind == "drop":
        return Answer(answer.status, answer.body, answer.headers, answer.content_type, cut=True)
    return answer


def _checked_request(
    api_version: str, model_id: str, key: str, expected_key: str | None, body: bytes
) -> ImageRequest:
    _check_key(key, expected_key)
    if len(body) > MAX_REQUEST_BYTES:
        raise invalid(f"Request payload size exceeds the limit: {MAX_REQUEST_BYTES} bytes.")
    normalised = normalise(_parse_json(body), api_version)
    spec = image_model(model_id, api_version)
    return read_request(normalised, spec, api_version)


def _check_key(key: str, expected_key: str | None) -> None:
    if not key:
        raise Rejection(403, _NO_KEY)
    if expected_key is not None and key != expected_key:
        raise Rejection(400, _BAD_KEY, details=_bad_key_details())


def _parse_json(body: bytes) -> Any:
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


def _reply(request: ImageRequest, fault: Fault | None, sample: int) -> dict[str, Any]:
    if fault is None:
        return image_reply(request, sample=sample)
    if fault.kind == "block":
        return blocked_reply(request, fault.reason or "SAFETY")
    if fault.kind == "finish":
        return refusal_reply(request, fault.reason or "OTHER")
    if fault.kind == "text_only":
        return text_reply(request, fault.text or "")
    if fault.kind == "empty_candidates":
        return empty_reply(request)
    if fault.kind == "bad_image":
        return image_reply(request, sample=sample, image=UNDECODABLE_IMAGE)
    return image_reply(request, sample=sample)  # slow and drop change delivery, not the reply


def _http_fault(fault: Fault) -> Rejection:
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
