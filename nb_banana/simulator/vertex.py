"""Vertex AI's side of the simulator: its paths, its auth, its model list, its reply shape.

Vertex serves the same models under a project and location
(``/v1beta1/projects/P/locations/L/publishers/google/models/M:generateContent``, with an
OAuth ``Authorization: Bearer`` token) or in express mode
(``/v1beta1/publishers/google/models/M:generateContent`` with ``x-goog-api-key``). Tokens
come from the simulator's own OAuth endpoint (``POST /token``), which a service-account
file's ``token_uri`` can name: google-auth then fetches its tokens here, so Application
Default Credentials are exercised as they are against Google. Requests are checked and
drawn exactly as the Developer API's (``endpoint.draw``); the reply gains Vertex's fields.
Where this differs from what Google was seen to do, docs/simulator.md lists the guesses.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs, unquote

from PIL import Image

from .endpoint import Answer, check_key
from .listing import listed_models
from .rejections import Rejection, invalid
from .streaming import encode

GENERATE = "vertex.generateContent"
LIST = "vertex.list"
TOKEN = "vertex.token"
TOKEN_PATH = "/token"
# Where the simulator serves the image models (a guess: Google's Gemini 3 image models were
# documented at ``global`` first; regional endpoints vary by model and date).
LOCATIONS = ("global", "us-central1")
_VERSIONS = r"(v1|v1beta1)"
_CALLS = r":(generateContent|streamGenerateContent)"
_ROUTES = (
    (
        "POST",
        GENERATE,
        re.compile(
            _VERSIONS + r"/projects/([^/]+)/locations/([^/]+)/publishers/google/models/"
            r"([^/:]+)" + _CALLS
        ),
    ),
    (
        "POST",
        GENERATE,
        re.compile(_VERSIONS + r"/publishers/google/models/([^/:]+)" + _CALLS),
    ),
    ("GET", LIST, re.compile(_VERSIONS + r"/publishers/google/models")),
)
# google-auth addresses its assertion to Google's token endpoint whatever ``token_uri`` says.
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
_JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_TOKEN_SECONDS = 3599


@dataclass(frozen=True)
class VertexRoute:
    """A Vertex request: its endpoint, version, model, and project and location ("" in
    express mode and for the model list)."""

    endpoint: str
    api_version: str
    model: str = ""
    project: str = ""
    location: str = ""
    stream: bool = False  # ``:streamGenerateContent``: the answer comes as SSE events

    @property
    def express(self) -> bool:
        return not self.project

    @property
    def drawn_as(self) -> str:
        """The Developer API version whose rules the request is checked by."""
        return "v1" if self.api_version == "v1" else "v1beta"


def route(method: str, path: str) -> VertexRoute | None:
    """The Vertex endpoint ``method`` on ``path`` reaches, ``None`` if it is not one."""
    if method == "POST" and path == TOKEN_PATH:
        return VertexRoute(TOKEN, "")
    for route_method, endpoint, pattern in _ROUTES:
        match = pattern.fullmatch(path.lstrip("/"))
        if match is None or method != route_method:
            continue
        groups = [unquote(g) for g in match.groups()]
        if endpoint == LIST:
            return VertexRoute(LIST, groups[0])
        streamed = groups[-1] == "streamGenerateContent"
        if len(groups) == 5:
            return VertexRoute(GENERATE, groups[0], groups[3], groups[1], groups[2], streamed)
        return VertexRoute(GENERATE, groups[0], groups[1], stream=streamed)
    return None


@dataclass
class VertexAccess:
    """Who may call: the tokens this simulator issued, and the Cloud side's state.

    ``project`` (``None``: any) is the one project the caller may use; another answers as
    Google answers a project the caller lacks permission on. ``api_disabled`` answers every
    project call as a project whose Vertex AI API is not enabled.
    """

    project: str | None = None
    api_disabled: bool = False
    _tokens: dict[str, str] = field(default_factory=dict)  # token -> the account's email
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def issue(self, body: bytes) -> Answer:
        """``POST /token``: an access token for a service account's signed JWT assertion.

        The assertion's claims are read (issuer, audience, scope), not its signature: the
        simulator does not know the account's public key (a guess kept in docs/simulator.md).
        """
        form = parse_qs(body.decode("utf-8", "replace"))
        if form.get("grant_type", [""])[0] != _JWT_BEARER:
            return _oauth_error("unsupported_grant_type", "Only the JWT bearer grant is served.")
        claims = _claims(form.get("assertion", [""])[0])
        if claims is None:
            return _oauth_error("invalid_grant", "Invalid JWT: the assertion cannot be read.")
        if claims.get("aud") != GOOGLE_TOKEN_AUDIENCE or "cloud-platform" not in str(
            claims.get("scope")
        ):
            return _oauth_error("invalid_scope", "Invalid JWT audience or scope.")
        if float(claims.get("exp", 0)) < time.time():
            return _oauth_error("invalid_grant", "Invalid JWT: Token must be a short-lived token.")
        token = "ya29.sim-" + secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = str(claims.get("iss", ""))
        return Answer.json(
            200, {"access_token": token, "expires_in": _TOKEN_SECONDS, "token_type": "Bearer"}
        )

    def check(
        self, target: VertexRoute, authorization: str, key: str, expected_key: str | None
    ) -> None:
        """The auth and project checks of one Vertex call, in the order the service seems
        to make them: credentials, then whether the project may use Vertex AI."""
        if target.express and target.endpoint == GENERATE:
            check_key(key, expected_key)
            return
        if key and target.endpoint == LIST:
            check_key(key, expected_key)
            return
        scheme, _, token = authorization.partition(" ")
        with self._lock:
            known = scheme.lower() == "bearer" and token in self._tokens
        if not known:
            raise Rejection(401)
        if target.endpoint != GENERATE:
            return
        if self.project is not None and target.project != self.project:
            raise _permission_denied(target)
        if self.api_disabled:
            raise _api_disabled(target.project)
        if target.location not in LOCATIONS:
            raise _model_not_here(target)

    def reset(self) -> None:
        self.project = None
        self.api_disabled = False


@dataclass(frozen=True)
class OutputOptions:
    """``imageConfig.imageOutputOptions``, which Vertex alone takes."""

    mime_type: str
    quality: int | None


_OUTPUT_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG"}


def take_output_options(body: bytes) -> tuple[bytes, OutputOptions | None]:
    """The body without ``imageOutputOptions`` (so the Developer API's rules check the
    rest, and refuse the field there), and the options it held; a value Vertex would not
    take is refused as Vertex refuses an invalid argument (the wording is a guess)."""
    try:
        document = json.loads(body) if body.strip() else None
    except ValueError:
        return body, None  # the draw refuses the JSON as the Developer API does
    config = _field(document, "generationConfig", "generation_config")
    image = _field(config, "imageConfig", "image_config")
    if not isinstance(image, dict):
        return body, None
    options = image.pop("imageOutputOptions", None) or image.pop("image_output_options", None)
    if options is None:
        return body, None
    mime = options.get("mimeType") or options.get("mime_type") or "image/png"
    quality = options.get("compressionQuality", options.get("compression_quality"))
    if mime not in _OUTPUT_FORMATS:
        raise invalid(f"Unsupported output mime type: {mime}. Use image/jpeg or image/png.")
    if quality is not None and not (isinstance(quality, int) and 0 <= quality <= 100):
        raise invalid(f"compression_quality must be between 0 and 100, got {quality}.")
    return json.dumps(document).encode(), OutputOptions(mime, quality)


def _field(document: Any, camel: str, snake: str) -> Any:
    if not isinstance(document, dict):
        return None
    return document.get(camel, document.get(snake))


def vertex_reply(answer: Answer, output: OutputOptions | None = None) -> Answer:
    """A drawn reply in Vertex's shape: ``createTime``, ``trafficType`` and TEXT tokens
    itemised beside IMAGE (the Developer API itemises IMAGE only); its pictures in the
    format ``output`` asks for."""
    if answer.status != 200:
        return answer
    if answer.events:  # a stream: each event is a reply of its own
        events = tuple(_vertex_event(event, output) for event in answer.events)
        return replace(answer, events=events)
    reply = json.loads(answer.body)
    if not isinstance(reply, dict) or "candidates" not in reply:
        return answer
    return Answer.json(200, _vertex_shape(reply, output))


def _vertex_event(event: bytes, output: OutputOptions | None) -> bytes:
    """One SSE event's reply in Vertex's shape (an error event as it is)."""
    reply = json.loads(event.removeprefix(b"data: "))
    if not isinstance(reply, dict) or "candidates" not in reply:
        return event
    return encode(_vertex_shape(reply, output))


def _vertex_shape(reply: dict[str, Any], output: OutputOptions | None) -> dict[str, Any]:
    if output is not None:
        _reencode(reply, output)
    reply["createTime"] = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    usage = reply.setdefault("usageMetadata", {})
    usage["trafficType"] = "ON_DEMAND"
    details = usage.get("candidatesTokensDetails") or []
    itemised = sum(int(d.get("tokenCount", 0)) for d in details)
    text = int(usage.get("candidatesTokenCount", 0)) - itemised
    if text > 0:
        usage["candidatesTokensDetails"] = [{"modality": "TEXT", "tokenCount": text}, *details]
    return reply


def model_list() -> dict[str, Any]:
    """``GET publishers/google/models``: Vertex's publisher models (one page)."""
    return {
        "publisherModels": [
            {
                "name": f"publishers/google/models/{entry.id}",
                "versionId": "001",
                "openSourceCategory": "PROPRIETARY",
                "launchStage": "GA",
                "publisherModelTemplate": f"projects/{{project}}/locations/{{location}}/"
                f"publishers/google/models/{entry.id}@001",
            }
            for entry in listed_models()
        ]
    }


def _claims(assertion: str) -> dict[str, Any] | None:
    parts = assertion.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError):
        return None
    return claims if isinstance(claims, dict) else None


def _oauth_error(error: str, description: str) -> Answer:
    return Answer.json(400, {"error": error, "error_description": description})


def _project_number(project: str) -> str:
    """A stable made-up project number, as Google's messages name projects by number."""
    return str(int(hashlib.sha256(project.encode()).hexdigest()[:10], 16))


def _resource(target: VertexRoute) -> str:
    return (
        f"projects/{target.project}/locations/{target.location}/publishers/google/models/"
        f"{target.model}"
    )


def _permission_denied(target: VertexRoute) -> Rejection:
    return Rejection(
        403,
        f"Permission 'aiplatform.endpoints.predict' denied on resource "
        f"'//aiplatform.googleapis.com/{_resource(target)}' (or it may not exist).",
        details=(
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "IAM_PERMISSION_DENIED",
                "domain": "aiplatform.googleapis.com",
                "metadata": {"permission": "aiplatform.endpoints.predict"},
            },
        ),
    )


def _api_disabled(project: str) -> Rejection:
    number = _project_number(project)
    return Rejection(
        403,
        f"Vertex AI API has not been used in project {number} before or it is disabled. "
        "Enable it by visiting https://console.developers.google.com/apis/api/"
        f"aiplatform.googleapis.com/overview?project={number} then retry. If you enabled "
        "this API recently, wait a few minutes for the action to propagate to our systems "
        "and retry.",
        details=(
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "SERVICE_DISABLED",
                "domain": "googleapis.com",
                "metadata": {
                    "service": "aiplatform.googleapis.com",
                    "consumer": f"projects/{number}",
                },
            },
        ),
    )


def _model_not_here(target: VertexRoute) -> Rejection:
    return Rejection(
        404,
        f"Publisher Model `{_resource(target)}` was not found or your project does not have "
        "access to it. Please ensure you are using a valid model version. For more "
        "information, see: https://cloud.google.com/vertex-ai/generative-ai/docs/learn/"
        "model-versions",
    )


def _reencode(reply: dict[str, Any], output: OutputOptions) -> None:
    """Every answer picture in the asked format. Re-encoding drops the placeholder's
    Content Credentials, as Google's JPEG asked for this way carried none (REAL_REPLIES.md)."""
    for candidate in reply.get("candidates") or []:
        for part in (candidate.get("content") or {}).get("parts") or []:
            blob = part.get("inlineData")
            if not blob or part.get("thought"):
                continue
            picture = Image.open(io.BytesIO(base64.b64decode(blob["data"])))
            encoded = io.BytesIO()
            kind = _OUTPUT_FORMATS[output.mime_type]
            extra = (
                {"quality": output.quality} if kind == "JPEG" and output.quality is not None else {}
            )
            picture.convert("RGB" if kind == "JPEG" else picture.mode).save(encoded, kind, **extra)
            blob["data"] = base64.b64encode(encoded.getvalue()).decode()
            blob["mimeType"] = output.mime_type
