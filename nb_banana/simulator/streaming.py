"""``streamGenerateContent?alt=sse``: a reply cut into the chunks Google streams it in.

The whole reply is drawn first, as ``generateContent`` draws it, and then told in order
(../shared/REAL_REPLIES.md, "Streaming"): the thought summaries a piece at a time, one or
two draft pictures (parts with ``thought: true``; a rough one, then one equal to the final
picture), then each answer part with its signature, and last an empty text part that
carries ``finishReason: STOP`` (and, for a model that signs, a signature of its own).
``usageMetadata`` rides on every chunk, growing until the last holds the whole reply's.
Each chunk is one SSE event, ``data: {json}`` and a blank line, with CRLF line ends.
Guesses 51–55 in docs/simulator.md.
"""

from __future__ import annotations

import base64
import copy
import io
import json
from typing import Any

from PIL import Image, ImageFilter

from ..gemini.models import ModelSpec
from . import signatures

_DRAFT_BLUR = 24  # the rough draft: the final picture this blurred (1/N of its width)


def events(reply: dict[str, Any], model: ModelSpec, signature_bytes: int | None) -> list[dict]:
    """The chunks of ``reply`` in the order they are sent; a reply without a candidate (a
    blocked prompt, no candidates) or without parts (a refusal) is a single chunk."""
    candidates = reply.get("candidates") or []
    parts = (candidates[0].get("content") or {}).get("parts") if candidates else None
    if not parts:
        return [reply]
    thoughts = [p for p in parts if p.get("thought")]
    answer = [p for p in parts if not p.get("thought")]
    pieces: list[dict[str, Any]] = []
    for i, part in enumerate(thoughts):
        ending = "\n\n" if i < len(thoughts) - 1 else ""
        pieces += [{**part, "text": piece} for piece in _halves(part["text"] + ending)]
    if thoughts:
        pieces += _drafts(answer)
    pieces += answer
    last: dict[str, Any] = {"text": ""}
    if model.signatures:
        last["thoughtSignature"] = signatures.sign_b64(model.id, b"", signature_bytes)
    pieces.append(last)
    return [_chunk(reply, piece, i, len(pieces)) for i, piece in enumerate(pieces)]


def encode(event: dict[str, Any]) -> bytes:
    """One SSE event as Google frames it."""
    return b"data: " + json.dumps(event, ensure_ascii=False).encode() + b"\r\n\r\n"


def _halves(text: str) -> list[str]:
    """A thought in two pieces, split at a word near its middle (heading, then the rest)."""
    cut = text.find(" ", len(text) // 2)
    return [text] if cut <= 0 else [text[:cut], text[cut:]]


def _drafts(answer: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The model's sketches before its answer: the final picture blurred, then the final
    picture itself (both unsigned thought parts)."""
    images = [p["inlineData"] for p in answer if "inlineData" in p]
    if not images:
        return []
    final = images[-1]
    rough = _blurred(base64.b64decode(final["data"]), final["mimeType"])
    return [
        {"inlineData": {"mimeType": final["mimeType"], "data": rough}, "thought": True},
        {"inlineData": dict(final), "thought": True},
    ]


def _blurred(data: bytes, mime_type: str) -> str:
    with Image.open(io.BytesIO(data)) as picture:
        picture.load()
        radius = max(picture.width // _DRAFT_BLUR, 2)
        rough = picture.convert("RGB").filter(ImageFilter.GaussianBlur(radius))
    out = io.BytesIO()
    rough.save(out, format="JPEG" if mime_type == "image/jpeg" else "PNG")
    return base64.b64encode(out.getvalue()).decode("ascii")


def _chunk(reply: dict[str, Any], piece: dict[str, Any], i: int, count: int) -> dict[str, Any]:
    """Chunk ``i`` of ``count``: one part, the usage so far, the finish reason on the last."""
    candidate = copy.copy(reply["candidates"][0])
    candidate["content"] = {"parts": [piece], "role": "model"}
    if i < count - 1:
        candidate.pop("finishReason", None)
        candidate.pop("groundingMetadata", None)
    chunk = {k: v for k, v in reply.items() if k != "candidates"}
    chunk["candidates"] = [candidate]
    chunk["usageMetadata"] = _usage_so_far(reply.get("usageMetadata") or {}, (i + 1) / count)
    return chunk


def _usage_so_far(usage: dict[str, Any], share: float) -> dict[str, Any]:
    """The counts as they grow: the prompt's from the first chunk, thoughts and answer by
    the share of chunks sent, the whole on the last."""
    if share >= 1:
        return usage
    grown = {k: v for k, v in usage.items() if k.startswith("prompt")}
    thoughts = round(usage.get("thoughtsTokenCount", 0) * min(1.0, 2 * share))
    answer = round(usage.get("candidatesTokenCount", 0) * max(0.0, 2 * share - 1))
    if thoughts:
        grown["thoughtsTokenCount"] = thoughts
    if answer:
        grown["candidatesTokenCount"] = answer
    grown["totalTokenCount"] = usage.get("promptTokenCount", 0) + thoughts + answer
    return grown
