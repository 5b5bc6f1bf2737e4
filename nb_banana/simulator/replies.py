"""The JSON bodies of successful (HTTP 200) answers: a normal reply and the reply-shaped faults.

A normal reply is what ``gemini-*-image`` models send: optional thought parts, a short
text, one picture (JPEG with Content Credentials from Pro, PNG from the others), both
signed, ``finishReason: STOP``, token usage, the model version and an id. A prompt that
reads like a question is answered in words only (``questions``). The faults that the API
delivers with status 200 (a blocked prompt, a refused image, a text-only answer, no
candidates, an undecodable image) are built here too, from the same request, so that
everything but the injected difference is what a real reply would hold. Token counts
follow Google's published figures; they are estimates, not a tokenizer.
"""

from __future__ import annotations

import base64
import hashlib
import html
import math
from typing import Any
from urllib.parse import quote_plus

from ..gemini.models import ModelSpec
from . import c2pa_manifest, signatures
from .credentials import with_content_credentials
from .questions import answers_in_words
from .render import JPEG, Scene, render, reply_mime
from .validate import ImageRequest

# Not an image: what Fault.bad_image puts in inlineData (a PNG signature, then no chunks).
UNDECODABLE_IMAGE = b"\x89PNG\r\n\x1a\n" + b"this is not image data " * 8
_SHORT_PROMPT = 60
_SOURCES = "https://example.com/nb-banana-simulator"
_DEEP_LEVELS = ("HIGH", "XHIGH")  # thinking levels that think visibly longer
# Tokens per image, from Google's model pages: Gemini 3 Pro Image, and Gemini 3.1 Flash Image
# (also used for Lite and the simulated future model, whose pages give none).
_PRO_INPUT_IMAGE_TOKENS = 560
_FLASH_INPUT_IMAGE_TOKENS = 1120
_PRO_OUTPUT_IMAGE_TOKENS = {"1K": 1120, "2K": 1120, "4K": 2000}
_FLASH_OUTPUT_IMAGE_TOKENS = {"512": 747, "1K": 1120, "2K": 1680, "4K": 2520}


def image_reply(
    request: ImageRequest,
    *,
    sample: int = 1,
    image: bytes | None = None,
    signature_bytes: int | None = None,
) -> dict[str, Any]:
    """The normal reply; ``image`` replaces the rendered picture (for ``Fault.bad_image``).

    A repeated request (``sample`` 2, 3, …) gets another picture and says so. A prompt
    that reads like a question gets words only. ``signature_bytes`` sizes the thought
    signatures (``None``: the model's realistic size).
    """
    if "IMAGE" in request.modalities and answers_in_words(request.prompt):
        return text_reply(request, _spoken_answer(request), signature_bytes=signature_bytes)
    text = _answer_text(request, sample) if "TEXT" in request.modalities else None
    picture = None
    if "IMAGE" in request.modalities:
        picture = image if image is not None else _picture(request, sample)
    parts = _answer_parts(request, text, picture, signature_bytes)
    reply = _with_candidate(request, parts, "STOP", text=text or "", images=int(bool(picture)))
    if request.search:
        reply["candidates"][0]["groundingMetadata"] = _grounding(request)
    if sample > 1:
        reply["responseId"] = _response_id(request.fingerprint + sample.to_bytes(4, "big"))
    return reply


def text_reply(
    request: ImageRequest, text: str, *, signature_bytes: int | None = None
) -> dict[str, Any]:
    """A STOP reply whose only answer is ``text`` (``Fault.text_only``, or a question)."""
    parts = _answer_parts(request, text, None, signature_bytes)
    return _with_candidate(request, parts, "STOP", text=text, images=0)


def refusal_reply(request: ImageRequest, reason: str) -> dict[str, Any]:
    """One candidate that stopped with ``reason`` and an empty ``content: {}`` (no parts,
    no role), as a recorded NO_IMAGE reply came (``Fault.finish``)."""
    reply = _with_candidate(request, None, reason, text="", images=0)
    reply["candidates"][0]["finishMessage"] = (
        f"The model output could not be generated ({reason}). This reply was injected "
        "by the nb_banana simulator."
    )
    return reply


def blocked_reply(request: ImageRequest, reason: str) -> dict[str, Any]:
    """No candidates and ``promptFeedback.blockReason`` (``Fault.block``)."""
    return {
        "promptFeedback": {"blockReason": reason},
        "usageMetadata": _usage(request, text="", images=0, thoughts=""),
        **_identity(request),
    }


def empty_reply(request: ImageRequest) -> dict[str, Any]:
    """``"candidates": []`` with no block reason (``Fault.empty_candidates``)."""
    return {
        "candidates": [],
        "usageMetadata": _usage(request, text="", images=0, thoughts=""),
        **_identity(request),
    }


def _with_candidate(
    request: ImageRequest,
    parts: list[dict[str, Any]] | None,
    reason: str,
    *,
    text: str,
    images: int,
) -> dict[str, Any]:
    content: dict[str, Any] = {} if parts is None else {"parts": parts, "role": "model"}
    thoughts = (
        " ".join(p["text"] for p in _thought_parts(request)) if request.model.thinking else ""
    )
    return {
        "candidates": [{"content": content, "finishReason": reason, "index": 0}],
        "usageMetadata": _usage(request, text=text, images=images, thoughts=thoughts),
        **_identity(request),
    }


def _identity(request: ImageRequest) -> dict[str, str]:
    """``modelVersion`` and a ``responseId`` derived from the request, so replies repeat."""
    return {"modelVersion": request.model.id, "responseId": _response_id(request.fingerprint)}


def _response_id(seed: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(seed).digest()[:16]).decode().rstrip("=")


def _picture(request: ImageRequest, sample: int) -> bytes:
    """The drawn picture in the model's format; a JPEG carries Content Credentials: a
    manifest signed by the C2PA library where it is installed, else the stand-in."""
    mime_type = reply_mime(request.model.id)
    picture = render(_scene(request, sample), mime_type)
    if mime_type != JPEG:
        return picture
    signed = c2pa_manifest.sign(picture, mime_type)
    return signed if signed is not None else with_content_credentials(picture)


def _scene(request: ImageRequest, sample: int) -> Scene:
    width, height = request.model.pixels(request.aspect, request.size)
    aspect = f"{request.aspect} (model's choice)" if request.aspect_chosen else request.aspect
    label = f"{request.model.id} · {aspect} · {request.size} · turn {request.turn}"
    if sample > 1:
        label += f" · take {sample}"
    return Scene(
        width, height, request.prompt, label, request.inputs, request.previous, variant=sample
    )


def _short(prompt: str) -> str:
    text = " ".join(prompt.split()) or "your picture"
    return text if len(text) <= _SHORT_PROMPT else text[: _SHORT_PROMPT - 1].rstrip() + "…"


def _grounding(request: ImageRequest) -> dict[str, Any]:
    """What a search-grounded reply carries: the search chip, and per kind of search its
    query and sources (three web pages, two images).

    The real API's source links are Google redirect URLs and its chips come with their own
    CSS; these are plainly simulated (example.com) and styled inline.
    """
    query = _short(request.prompt)
    chunks: list[dict[str, Any]] = []
    grounding: dict[str, Any] = {
        "searchEntryPoint": {"renderedContent": _search_chip(query)},
        "groundingChunks": chunks,
    }
    if "web" in request.search:
        chunks += [_web_chunk(i) for i in (1, 2, 3)]
        grounding["webSearchQueries"] = [query]
    if "image" in request.search:
        chunks += [_image_chunk(i) for i in (1, 2)]
        grounding["imageSearchQueries"] = [query]
    return grounding


def _search_chip(query: str) -> str:
    return (
        # Mid-grey and blue read on light and dark notebooks alike.
        '<div class="container" style="font: 13px sans-serif; color: #80868b;">Search '
        "suggestion (simulated): "
        f'<a href="https://www.google.com/search?q={quote_plus(query)}" '
        'style="color: #1a73e8; border: 1px solid #80868b; border-radius: 16px; '
        f'padding: 2px 10px; text-decoration: none;">{html.escape(query)}</a></div>'
    )


def _web_chunk(i: int) -> dict[str, Any]:
    title = f"example.com (simulated source {i})"
    return {"web": {"uri": f"{_SOURCES}/source-{i}", "title": title}}


def _image_chunk(i: int) -> dict[str, Any]:
    """An image search result in the SDK's ``GroundingChunkImage`` shape (3.6.1)."""
    return {
        "image": {
            "sourceUri": f"{_SOURCES}/image-page-{i}",
            "imageUri": f"{_SOURCES}/image-{i}.png",
            "title": f"example.com (simulated image source {i})",
            "domain": "example.com",
        }
    }


def _spoken_answer(request: ImageRequest) -> str:
    """What the simulated model says to a question, instead of drawing."""
    return (
        f"(Simulated, text only.) You asked: “{_short(request.prompt)}”. The simulator "
        "answers a question in words, as the real model may; ask it to draw (e.g. 'Draw "
        "…') for a picture."
    )


def _answer_text(request: ImageRequest, sample: int) -> str:
    if "IMAGE" not in request.modalities:
        width, height = request.model.pixels(request.aspect, request.size)
        return (
            f"(Simulated, text only.) An image of “{_short(request.prompt)}” would be "
            f"{width}×{height} pixels."
        )
    if sample > 1:
        return f"Here is take {sample} of “{_short(request.prompt)}”."
    if request.turn > 1:
        return f"Here is the updated image: “{_short(request.prompt)}”."
    return f"Here is your image of “{_short(request.prompt)}”."


def _thought_parts(request: ImageRequest) -> list[dict[str, Any]]:
    """What a thinking model shows of its plan when asked to include thoughts.

    The plan names the thinking level, and a deep level thinks one paragraph more, so that
    the level visibly arrives (in the thoughts and in ``thoughtsTokenCount``).
    """
    plan = (
        f"**Planning the picture**\n\nThe request is “{_short(request.prompt)}”. "
        f"I'll compose it at {request.aspect} and {request.size}."
    )
    if "web" in request.search:
        plan += " I'll check Google Search for current details first."
    if "image" in request.search:
        plan += " I'll look at Google Image Search results for how it should look."
    if request.thinking_level:
        plan += f" (Thinking level: {request.thinking_level.lower()}.)"
    parts = [{"text": plan, "thought": True}]
    if request.thinking_level in _DEEP_LEVELS:
        parts.append(
            {
                "text": "**Checking the details**\n\nBefore drawing, I'll go over the layout, "
                "the light and every object the prompt names, and fix what does not fit.",
                "thought": True,
            }
        )
    if request.inputs or request.previous:
        source = (
            f"the {len(request.inputs)} reference image(s)" if request.inputs else "my last image"
        )
        parts.append(
            {
                "text": f"**Working from the references**\n\nI'll start from {source} "
                "and change only what was asked.",
                "thought": True,
            }
        )
    return parts


def _answer_parts(
    request: ImageRequest, text: str | None, image: bytes | None, signature_bytes: int | None
) -> list[dict[str, Any]]:
    """Thoughts (if asked for), then the text and the image, signed as Gemini 3 models sign:
    the first answer part and every image part carry a ``thoughtSignature``."""
    parts = _thought_parts(request) if request.include_thoughts else []
    model = request.model
    if text is not None:
        parts.append({"text": text})
        if model.signatures:
            signature = signatures.sign_b64(model.id, text.encode(), signature_bytes)
            parts[-1]["thoughtSignature"] = signature
    if image is not None:
        blob = {"mimeType": reply_mime(model.id), "data": _b64(image)}
        parts.append({"inlineData": blob})
        if model.signatures:
            parts[-1]["thoughtSignature"] = signatures.sign_b64(model.id, image, signature_bytes)
    return parts


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _tokens(chars: int) -> int:
    return math.ceil(chars / 4)


def _is_pro(model: ModelSpec) -> bool:
    """Whether the token figures of Pro apply; every other image model counts as Flash does."""
    return "-pro-" in model.id


def _input_image_tokens(model: ModelSpec) -> int:
    return _PRO_INPUT_IMAGE_TOKENS if _is_pro(model) else _FLASH_INPUT_IMAGE_TOKENS


def _output_image_tokens(model: ModelSpec, size: str) -> int:
    table = _PRO_OUTPUT_IMAGE_TOKENS if _is_pro(model) else _FLASH_OUTPUT_IMAGE_TOKENS
    return table[size]


def _usage(request: ImageRequest, *, text: str, images: int, thoughts: str) -> dict[str, Any]:
    prompt_text = _tokens(request.prompt_chars)
    prompt_images = request.prompt_images * _input_image_tokens(request.model)
    answer_text = _tokens(len(text))
    answer_images = images * _output_image_tokens(request.model, request.size)
    thought_tokens = _tokens(len(thoughts))
    usage: dict[str, Any] = {
        "promptTokenCount": prompt_text + prompt_images,
        "totalTokenCount": prompt_text
        + prompt_images
        + answer_text
        + answer_images
        + thought_tokens,
        "promptTokensDetails": _details(prompt_text, prompt_images),
    }
    # Protobuf JSON leaves out zero counts, so a reply without output has no candidate counts.
    # The recorded details itemise IMAGE only; the text's tokens are in the count alone.
    if answer_text or answer_images:
        usage["candidatesTokenCount"] = answer_text + answer_images
    if answer_images:
        usage["candidatesTokensDetails"] = _details(0, answer_images)
    if thought_tokens:
        usage["thoughtsTokenCount"] = thought_tokens
    return usage


def _details(text: int, image: int) -> list[dict[str, Any]]:
    counts = (("TEXT", text), ("IMAGE", image))
    return [{"modality": name, "tokenCount": count} for name, count in counts if count]
