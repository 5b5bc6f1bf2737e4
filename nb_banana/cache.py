"""Between a call and the store: the cache key, writing a result, and reading one back.

The key covers everything that decides the reply: model, options, the parts' text and
image bytes, and the chat history sent with it (thought signatures included), so a hit is
exactly the request that was paid for before.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from itertools import zip_longest
from typing import Any

from google.genai import types

from . import wire
from .models import resolve_model
from .previews import Preview
from .request import ImagePart, Request, TextPart
from .result import Result
from .store import Row, Store, cache_key
from .usage import Usage


def request_document(request: Request) -> dict[str, Any]:
    """The request as stored: text, image hashes (not bytes) and options."""
    parts: list[dict[str, Any]] = []
    for part in request.parts:
        if isinstance(part, TextPart):
            parts.append({"text": part.text})
        elif isinstance(part, ImagePart):
            image = part.image
            parts.append({
                "image_sha256": hashlib.sha256(image.data).hexdigest(),
                "mime_type": image.mime_type, "label": part.label,
                "width": image.width, "height": image.height,
            })  # fmt: skip
    doc: dict[str, Any] = {
        "model": request.model.id,
        "aspect": request.aspect,
        "size": request.size,
        "count": request.count,
        # Web search alone stays ``True``, and the options added later appear only when
        # set, so the keys of requests stored before them still match.
        "search": _search_doc(request.search),
        "thoughts": request.thoughts,
        "parts": parts,
    }
    if request.thinking:
        doc["thinking"] = request.thinking
    return doc


def _search_doc(kinds: tuple[str, ...]) -> bool | list[str]:
    return list(kinds) if "image" in kinds else bool(kinds)


def key_for(request: Request, history: Sequence[types.Content]) -> str:
    return cache_key({"request": request_document(request), "history": _history_doc(history)})


def keys_for(request: Request, history: Sequence[types.Content]) -> tuple[str, ...]:
    """The keys the store may hold this request under: its own, and, for a call sent to a
    shut-down model's replacement, the key the shut-down model answered it under, so an
    old notebook re-runs from the store as it did before the shutdown."""
    own = key_for(request, history)
    if not request.replaced:
        return (own,)
    asked = replace(request, model=resolve_model(request.replaced))
    return own, key_for(asked, history)


def _history_doc(history: Sequence[types.Content]) -> list[dict[str, Any]]:
    doc = []
    for content in history:
        parts = []
        for part in content.parts or []:
            entry: dict[str, Any] = {"text": part.text, "thought": part.thought}
            if part.inline_data and part.inline_data.data:
                entry["image"] = hashlib.sha256(part.inline_data.data).hexdigest()
            if part.thought_signature:
                entry["signature"] = hashlib.sha256(part.thought_signature).hexdigest()
            parts.append(entry)
        doc.append({"role": content.role, "parts": parts})
    return doc


def record(store: Store, key: str, result: Result) -> int:
    """Write the images (originals and previews) first, then the row."""
    entries = _image_entries(store, result)
    replies = []
    for reply in result.replies:
        images = [next(entries) for _ in reply.images]
        replies.append({
            "content": wire.content_to_doc(reply.content, store),
            "text": reply.text, "thoughts": reply.thoughts,
            "finish_reason": reply.finish_reason, "usage": vars(reply.usage), "images": images,
            "grounding": reply.grounding.to_doc() if reply.grounding else None,
        })  # fmt: skip
    row = {
        "cache_key": key,
        "model": result.request.model.id,
        "prompt": result.request.text,
        "request": request_document(result.request),
        "replies": replies,
        "images": len(result.outputs),
        "tokens": result.usage.total_tokens,
        "cost": result.cost,
        "elapsed": result.elapsed,
        "chat": result.chat,
        "turn": result.turn,
        "created": time.time(),
    }
    return store.record(row)


def _image_entries(store: Store, result: Result) -> Iterator[dict[str, Any]]:
    """Each output image's stored form, after writing all the blobs at once."""
    entries, writes = [], []
    for out, preview in zip_longest(result.outputs, result.previews[: len(result.outputs)]):
        entry = {"mime_type": out.mime_type, "width": out.width, "height": out.height}
        writes.append((out.data, out.mime_type))
        if preview is not None and preview.data is not out.data:
            entry["preview_mime_type"] = preview.mime_type
            entry["preview_size"] = [preview.width, preview.height]
            writes.append((preview.data, preview.mime_type))
        entries.append(entry)
    names = iter(store.put_blobs(writes))
    for entry in entries:
        entry["blob"] = next(names)
        if "preview_mime_type" in entry:
            entry["preview"] = next(names)
    return iter(entries)


def rebuild(store: Store, row: Row, request: Request) -> tuple[tuple[wire.Reply, ...], tuple]:
    """The replies and previews of a stored generation, bytes read back from the blobs."""
    replies, previews = [], []
    for doc in row.replies:
        images = []
        for entry in doc["images"]:
            data = store.blob(entry["blob"])
            out = wire.OutImage(data, entry["mime_type"], entry["width"], entry["height"])
            images.append(out)
            previews.append(_stored_preview(store, entry, out))
        replies.append(
            wire.Reply(
                images=tuple(images),
                text=doc["text"],
                thoughts=doc["thoughts"],
                usage=Usage(**doc["usage"]),
                content=wire.content_from_doc(doc["content"], store),
                finish_reason=doc["finish_reason"],
                grounding=wire.Grounding.from_doc(doc.get("grounding")),
            )
        )
    return tuple(replies), tuple(previews)


def _stored_preview(store: Store, entry: dict[str, Any], out: wire.OutImage) -> Preview:
    if "preview" not in entry:
        return Preview(out.data, out.mime_type, out.width, out.height)
    width, height = entry["preview_size"]
    return Preview(store.blob(entry["preview"]), entry["preview_mime_type"], width, height)
