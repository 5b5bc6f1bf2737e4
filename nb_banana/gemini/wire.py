"""The only module that speaks google-genai types: ``Request`` -> SDK call, SDK reply -> ``Reply``.

Import it lazily: ``google.genai`` takes about half a second to import, and loading the
extension must not pay that.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from google.genai import types
from PIL import Image

from ..errors import ApiError, ImageRefusedError, NoImageError, PromptBlockedError
from .request import ImagePart, Request, TextPart
from .usage import Usage

RETRY_STATUS_CODES = (408, 429, 500, 502, 503, 504)
# A paced run (``each``) answers 429 itself: it pauses every call for the server's delay.
PACED_RETRY_STATUS_CODES = tuple(code for code in RETRY_STATUS_CODES if code != 429)

_REFUSALS = {
    "IMAGE_SAFETY": "the image was withheld by the safety filter",
    "SAFETY": "the reply was withheld by the safety filter",
    "IMAGE_PROHIBITED_CONTENT": "the image would show prohibited content",
    "PROHIBITED_CONTENT": "the request touches prohibited content",
    "IMAGE_RECITATION": "the image resembled protected material too closely",
    "RECITATION": "the reply resembled protected material too closely",
    "BLOCKLIST": "the request contains blocked terms",
    "SPII": "the request asks for sensitive personal information",
    "IMAGE_OTHER": "the model could not make the image",
    "OTHER": "the model stopped for an unstated reason",
}
_REFUSAL_FIX = {
    "IMAGE_RECITATION": "describe it in your own words instead of naming a protected work",
    "RECITATION": "describe it in your own words instead of naming a protected work",
    "IMAGE_OTHER": "re-run the cell or rephrase the prompt",
    "OTHER": "re-run the cell or rephrase the prompt",
}


@dataclass(frozen=True)
class OutImage:
    """One image from a reply: the bytes as received (no re-encoding) and their size."""

    data: bytes
    mime_type: str
    width: int
    height: int


@dataclass(frozen=True)
class Source:
    """A page Google Search gave the model (``groundingChunks[].web`` or ``.image``)."""

    title: str
    uri: str
    image_uri: str = ""  # an image search result's picture (``groundingChunks[].image``)


@dataclass(frozen=True)
class Grounding:
    """What a ``--search`` reply says it looked up.

    ``suggestions_html`` is the API's ``searchEntryPoint.renderedContent``: the search
    chips that Google's terms ask an app to show beside a grounded answer.
    """

    queries: tuple[str, ...] = ()
    sources: tuple[Source, ...] = ()
    suggestions_html: str = ""

    def to_doc(self) -> dict[str, Any]:
        return {
            "queries": list(self.queries),
            "sources": [[s.title, s.uri, s.image_uri] for s in self.sources],
            "suggestions_html": self.suggestions_html,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any] | None) -> Grounding | None:
        """``None`` for a reply stored without grounding (or before it was kept)."""
        if not doc:
            return None
        return cls(
            tuple(doc["queries"]),
            tuple(Source(*source) for source in doc["sources"]),
            doc["suggestions_html"],
        )


@dataclass(frozen=True)
class Reply:
    """One parsed sample; ``content`` is the model's turn exactly as received, for history."""

    images: tuple[OutImage, ...]
    text: str
    thoughts: str
    usage: Usage
    content: types.Content
    finish_reason: str
    grounding: Grounding | None = None
    # The model's draft pictures (parts with ``thought: true``), as received: shown under
    # the answer, never an answer themselves (``stream.py``).
    drafts: tuple[OutImage, ...] = ()


def user_content(request: Request) -> types.Content:
    parts = [
        types.Part.from_text(text=p.text)
        if isinstance(p, TextPart)
        else types.Part.from_bytes(data=p.image.data, mime_type=p.image.mime_type)
        for p in request.parts
    ]
    return types.Content(role="user", parts=parts)


def body_bytes(contents: Sequence[types.Content]) -> int:
    """About what these contents weigh in a request's JSON body: pictures and thought
    signatures as base64 (most of it), text as UTF-8, and a little for each part's keys.
    What the API's inline limit counts, without building the body."""
    total = 0
    for content in contents:
        for part in content.parts or ():
            total += 64 + len((part.text or "").encode())
            if part.inline_data and part.inline_data.data:
                total += _base64_len(len(part.inline_data.data))
            if part.thought_signature:
                total += _base64_len(len(part.thought_signature))
    return total


def _base64_len(n: int) -> int:
    return 4 * ((n + 2) // 3)


def contents(request: Request, history: Sequence[types.Content]) -> list[types.Content]:
    """The whole conversation to send: earlier turns untouched, then this turn."""
    return [*history, user_content(request)]


def config(
    request: Request, *, timeout: float, retries: int, retry_delay: float, paced: bool = False
) -> types.GenerateContentConfig:
    """Generation options plus per-call HTTP options: the SDK owns timeouts and backoff
    (``paced``: except for 429, which the caller paces itself)."""
    return generation_config(
        request,
        types.HttpOptions(
            timeout=int(timeout * 1000),
            retry_options=types.HttpRetryOptions(
                attempts=retries + 1,
                initial_delay=retry_delay,
                max_delay=max(retry_delay, 60.0),
                exp_base=2.0,
                jitter=min(retry_delay, 1.0),
                http_status_codes=list(PACED_RETRY_STATUS_CODES if paced else RETRY_STATUS_CODES),
            ),
        ),
    )


def generation_config(
    request: Request, http_options: types.HttpOptions | None = None
) -> types.GenerateContentConfig:
    """What the model is asked for: one builder for a live call and a batch's inlined
    request, so the two bodies cannot drift apart (and share cache keys)."""
    shape = image_shape(request)
    return types.GenerateContentConfig(
        response_modalities=["TEXT", "IMAGE"],
        image_config=types.ImageConfig(
            aspect_ratio=shape.get("aspectRatio"),
            image_size=shape.get("imageSize"),
            # Vertex AI's ``imageOutputOptions`` (the SDK refuses them for the Developer API).
            output_mime_type=request.output or None,
            output_compression_quality=request.quality,
        )
        if shape
        else None,
        tools=[types.Tool(google_search=_google_search(request.search))]
        if request.search
        else None,
        thinking_config=_thinking(request),
        http_options=http_options,
    )


def image_shape(request: Request) -> dict[str, Any]:
    """``imageConfig`` as the REST API spells it, holding only what was asked: an unset ratio
    leaves the shape to the model (an edit keeps its picture's), an unset size the API's
    1K; a model with one size takes no ``imageSize``; Vertex AI's output options when set."""
    shape: dict[str, Any] = {"aspectRatio": request.aspect} if request.aspect else {}
    if request.size and request.model.sends_image_size:
        shape["imageSize"] = request.size
    if request.output:
        options: dict[str, Any] = {"mimeType": request.output}
        if request.quality is not None:
            options["compressionQuality"] = request.quality
        shape["imageOutputOptions"] = options
    return shape


def inlined_requests(
    request: Request, history: Sequence[types.Content], tag: str, key: str = ""
) -> list[types.InlinedRequest]:
    """A Batch API job's requests for one element: ``request.count`` copies of the body a
    live call sends (the model is the job's), each tagged ``{"element": tag, "sample": i}``
    so its response finds its element whatever order the job returns them in, and with
    the element's store ``key``, so a store that lost the job can still tell what it
    answered (``batch.recover``)."""
    body = contents(request, history)
    generation = generation_config(request)
    # Its parts are SDK objects validated as they were built: validating them again (the
    # SDK's models read nested objects attribute by attribute) costs about a millisecond
    # per request, most of a 500-element job's submission.
    return [
        types.InlinedRequest.model_construct(
            contents=body,
            config=generation,
            metadata={"element": tag, "sample": str(i), **({"key": key} if key else {})},
        )
        for i in range(request.count)
    ]


# A job's per-request error is a google.rpc.Status: gRPC codes, not HTTP statuses.
_GRPC_STATUS = {1: "CANCELLED", 2: "UNKNOWN", 3: "INVALID_ARGUMENT", 4: "DEADLINE_EXCEEDED",
                5: "NOT_FOUND", 7: "PERMISSION_DENIED", 8: "RESOURCE_EXHAUSTED",
                9: "FAILED_PRECONDITION", 13: "INTERNAL", 14: "UNAVAILABLE"}  # fmt: skip


def parse_inlined(item: types.InlinedResponse) -> Reply:
    """One response of a finished job: a reply, or the error that job gave this request."""
    if item.error is not None:
        said = " ".join(str(item.error.message or "no reason given").split()).rstrip(".")
        status = _GRPC_STATUS.get(item.error.code or 0, "")
        raise ApiError(f"the job could not answer it ({status}{': ' * bool(status)}{said})",
                       None, status)  # fmt: skip
    if item.response is None:
        raise NoImageError("the job sent no response for it", "MISSING")
    return parse_reply(item.response)


def _google_search(kinds: tuple[str, ...]) -> types.GoogleSearch:
    """Web search alone is the plain tool, as the API has always taken it; image search
    names its kinds (``searchTypes``)."""
    if kinds == ("web",):
        return types.GoogleSearch()
    return types.GoogleSearch(
        search_types=types.SearchTypes(
            web_search=types.WebSearch() if "web" in kinds else None,
            image_search=types.ImageSearch() if "image" in kinds else None,
        )
    )


def _thinking(request: Request) -> types.ThinkingConfig | None:
    if not (request.thoughts or request.thinking):
        return None
    return types.ThinkingConfig(
        include_thoughts=True if request.thoughts else None,
        thinking_level=types.ThinkingLevel(request.thinking.upper()) if request.thinking else None,
    )


def parse_reply(response: types.GenerateContentResponse) -> Reply:
    """Check the reply for blocks and refusals, and collect its images, text and thoughts."""
    if not response.candidates:
        _raise_empty(response)
    candidate = response.candidates[0]
    reason = candidate.finish_reason.value if candidate.finish_reason else "STOP"
    content = candidate.content or types.Content(role="model", parts=[])
    parts = content.parts or []
    answer = [p for p in parts if not p.thought]
    text = "".join(p.text for p in answer if p.text)
    thoughts = "".join(p.text for p in parts if p.thought and p.text)
    found = [p.inline_data for p in answer if p.inline_data and p.inline_data.data]
    sketches = [p.inline_data for p in parts if p.thought and p.inline_data and p.inline_data.data]
    if not found:
        _raise_no_image(reason, text)
    return Reply(
        images=tuple(checked_image(blob.data, blob.mime_type or "") for blob in found),
        text=text.strip(),
        thoughts=thoughts.strip(),
        usage=_usage(response.usage_metadata),
        content=content,
        finish_reason=reason,
        grounding=_grounding(candidate.grounding_metadata),
        drafts=tuple(checked_image(blob.data, blob.mime_type or "") for blob in sketches),
    )


def _grounding(meta: types.GroundingMetadata | None) -> Grounding | None:
    if meta is None:
        return None
    entry = meta.search_entry_point
    grounding = Grounding(
        tuple(meta.web_search_queries or ()),
        tuple(source for chunk in meta.grounding_chunks or [] for source in _sources(chunk)),
        (entry.rendered_content or "") if entry is not None else "",
    )
    return grounding if grounding != Grounding() else None


def _sources(chunk: types.GroundingChunk) -> tuple[Source, ...]:
    """A web page, or an image search result (its page, and the image itself)."""
    if chunk.web is not None and chunk.web.uri:
        web = chunk.web
        return (Source(web.title or web.domain or web.uri, web.uri),)
    image = chunk.image
    if image is not None and (image.source_uri or image.image_uri):
        page = image.source_uri or image.image_uri or ""
        return (Source(image.title or image.domain or page, page, image.image_uri or ""),)
    return ()


def _raise_empty(response: types.GenerateContentResponse) -> None:
    feedback = response.prompt_feedback
    if feedback and feedback.block_reason:
        reason = feedback.block_reason.value
        raise PromptBlockedError(
            f"The prompt was blocked ({reason}) before any image was made: rephrase it, "
            "or change the reference images.",
            reason,
        )
    raise NoImageError("The model returned no answer at all (no candidates): re-run the cell.")


def _raise_no_image(reason: str, text: str) -> None:
    if reason == "NO_IMAGE":
        raise ImageRefusedError(
            "The model chose not to draw (NO_IMAGE): ask for an image explicitly, "
            "e.g. 'Generate an image of …'.",
            reason,
        )
    if reason == "MISSING_THOUGHT_SIGNATURE":
        raise ImageRefusedError(
            "The chat history reached the model without its thought signatures "
            "(MISSING_THOUGHT_SIGNATURE): start a new chat with a plain %%banana cell.",
            reason,
        )
    if reason in _REFUSALS:
        fix = _REFUSAL_FIX.get(reason, "rephrase the prompt or change the reference images")
        raise ImageRefusedError(f"No image: {_REFUSALS[reason]} ({reason}); {fix}.", reason)
    said = f" It said: “{_shorten(text)}”" if text else ""
    raise NoImageError(
        f"The model answered without an image ({reason}).{said} "
        "Ask for an image explicitly, e.g. 'Generate an image of …'.",
        reason,
    )


def checked_image(data: bytes, mime_type: str) -> OutImage:
    """Check the image is whole before it enters a chat or the store.

    A PNG's chunk CRCs prove it whole without decoding pixels; other formats carry no such
    check (a truncated JPEG passes ``verify``), so those are decoded.
    """
    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
            fmt = img.format or ""
            if fmt == "PNG":
                img.verify()
            else:
                img.load()
    except Exception as exc:
        raise NoImageError(
            f"The reply's image could not be decoded ({type(exc).__name__}): re-run the cell.",
            "UNDECODABLE",
        ) from None
    mime = Image.MIME.get(fmt, mime_type or "image/png")
    return OutImage(data, mime, width, height)


def _usage(meta: types.GenerateContentResponseUsageMetadata | None) -> Usage:
    if meta is None:
        return Usage()
    return Usage(
        prompt_tokens=meta.prompt_token_count or 0,
        output_tokens=meta.candidates_token_count or 0,
        thought_tokens=meta.thoughts_token_count or 0,
        total_tokens=meta.total_token_count or 0,
    )


def _shorten(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def rest_body(request: Request, history: Sequence[types.Content]) -> dict[str, Any]:
    """The JSON body a dry run shows: the REST shape, image data cut to a short prefix."""
    turns = [_content_json(c) for c in history] + [_user_json(request)]
    generation: dict[str, Any] = {"responseModalities": ["TEXT", "IMAGE"]}
    if shape := image_shape(request):
        generation["imageConfig"] = shape
    thinking = _thinking(request)
    if thinking is not None:
        generation["thinkingConfig"] = thinking.model_dump(mode="json", by_alias=True,
                                                           exclude_none=True)  # fmt: skip
    body: dict[str, Any] = {"contents": turns, "generationConfig": generation}
    if request.search:
        search = _google_search(request.search)
        body["tools"] = [{"googleSearch": search.model_dump(mode="json", by_alias=True,
                                                            exclude_none=True)}]  # fmt: skip
    return body


def _user_json(request: Request) -> dict[str, Any]:
    parts = [
        {"text": p.text}
        if isinstance(p, TextPart)
        else {"inlineData": {"mimeType": p.image.mime_type, "data": _b64_preview(p.image.data)}}
        for p in request.parts
        if isinstance(p, TextPart | ImagePart)
    ]
    return {"role": "user", "parts": parts}


def _content_json(content: types.Content) -> dict[str, Any]:
    parts = []
    for part in content.parts or []:
        if part.inline_data and part.inline_data.data:
            blob = part.inline_data
            parts.append(
                {"inlineData": {"mimeType": blob.mime_type, "data": _b64_preview(blob.data)}}
            )
        elif part.text is not None:
            parts.append({"text": part.text})
    return {"role": content.role, "parts": parts}


def _b64_preview(data: bytes) -> str:
    return base64.b64encode(data[:24]).decode() + f"… ({len(data):,} bytes)"


class Blobs(Protocol):
    """Where content documents keep image bytes: the store, or memory when there is none."""

    def put_blob(self, data: bytes, mime_type: str) -> str: ...

    def blob(self, name: str) -> bytes: ...


# A thought signature longer than this goes to a blob of its own: real ones are about a
# megabyte (../shared/REAL_REPLIES.md), and a chat's turns are rewritten as one document.
_SIGNATURE_IN_DOC = 4096
SIGNATURE_MIME = "application/octet-stream"


def long_signatures(content: types.Content) -> list[bytes]:
    """The thought signatures ``content_to_doc`` keeps as blobs of their own."""
    signatures = [part.thought_signature for part in content.parts or ()]
    return [data for data in signatures if data and len(data) > _SIGNATURE_IN_DOC]


def content_to_doc(content: types.Content, blobs: Blobs) -> dict[str, Any]:
    """A turn as JSON with image bytes and long thought signatures moved to blobs (as
    received, byte for byte); all else verbatim."""
    parts = content.parts or []
    moved = {i: _moved(part) for i, part in enumerate(parts)}
    # Left out of the dump, not dumped and dropped: as JSON they are ~1.3 MB of base64 a
    # reply at the real signatures' size, made while holding the GIL.
    doc = content.model_dump(mode="json", exclude_none=True,
                             exclude={"parts": {i: m for i, m in moved.items() if m}})  # fmt: skip
    for part_doc, part in zip(doc.get("parts", []), parts, strict=True):
        if part.inline_data and part.inline_data.data:
            blob = part.inline_data
            part_doc["inline_data"] = {
                "mime_type": blob.mime_type,
                "blob": blobs.put_blob(blob.data, blob.mime_type or ""),
            }
        if part.thought_signature and len(part.thought_signature) > _SIGNATURE_IN_DOC:
            name = blobs.put_blob(part.thought_signature, SIGNATURE_MIME)
            part_doc["thought_signature"] = {"blob": name}
    return doc


def _moved(part: types.Part) -> dict[str, Any]:
    """What of ``part`` ``content_to_doc`` keeps in blobs, as pydantic's ``exclude`` says it."""
    moved: dict[str, Any] = {}
    if part.inline_data and part.inline_data.data:
        moved["inline_data"] = {"data": True}
    if part.thought_signature and len(part.thought_signature) > _SIGNATURE_IN_DOC:
        moved["thought_signature"] = True
    return moved


def content_from_doc(doc: dict[str, Any], blobs: Blobs) -> types.Content:
    """The exact SDK ``Content`` back, image bytes and signatures read from the blobs."""
    parts = []
    for part_doc in doc.get("parts", []):
        inline = part_doc.get("inline_data")
        if inline and "blob" in inline:
            data = base64.b64encode(blobs.blob(inline["blob"])).decode()
            part_doc = {**part_doc, "inline_data": {"mime_type": inline["mime_type"], "data": data}}
        signature = part_doc.get("thought_signature")
        if isinstance(signature, dict):
            data = base64.b64encode(blobs.blob(signature["blob"])).decode()
            part_doc = {**part_doc, "thought_signature": data}
        parts.append(part_doc)
    return types.Content.model_validate({**doc, "parts": parts})
