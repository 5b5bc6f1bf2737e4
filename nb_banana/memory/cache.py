"""Between a call and the store: the cache key, writing a result, and reading one back.

The key is what was asked, of whom: the model, options, the parts' text (surrounding
whitespace aside) and image bytes (never the variable's name), the chat history sent with
it (thought signatures included), and the endpoint class that answers (the real service,
the simulator, or a custom base URL), so a hit is exactly the request that was paid for
before, and a simulator's placeholder never answers a call to Gemini.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from itertools import zip_longest
from typing import Any

from google.genai import types

from ..answer.previews import Preview
from ..answer.result import Result
from ..gemini import engine, wire
from ..gemini.models import resolve_model
from ..gemini.request import Request, request_document
from ..gemini.usage import Usage
from .store import REAL_SERVICE, SIMULATOR, Row, Store, cache_key


def endpoint_class(base_url: str, offline: bool, vertex: str = "") -> str:
    """Who answers: "simulator" (``%banana offline``, or the base URL is the shared
    simulator's), "gemini" (the real service: no base URL, or Google's own), or the custom
    base URL itself; on Vertex AI, ``vertex`` (``Target.ident``: the project and location,
    or express mode) is added, so its answers and the Developer API's never stand in for
    each other. ``turns/offline.py`` passes the settings and the switch in force."""
    url = base_url.rstrip("/")
    if offline or (url and url == _shared_simulator_url()):
        return SIMULATOR
    if vertex:
        url = url or os.environ.get("GOOGLE_VERTEX_BASE_URL", "").rstrip("/")
        return f"{vertex} {url}" if url else vertex
    url = url or os.environ.get("GOOGLE_GEMINI_BASE_URL", "").rstrip("/")
    return REAL_SERVICE if url in ("", engine.DEFAULT_ENDPOINT.rstrip("/")) else url


def _shared_simulator_url() -> str:
    """The running ``%banana offline`` simulator's URL, without starting (or importing) it."""
    server = sys.modules.get("nb_banana.simulator.server")
    shared = getattr(server, "_shared", None)
    return shared.url if shared is not None and shared.running else ""


def key_document(request: Request, endpoint: str = REAL_SERVICE) -> dict[str, Any]:
    """What the key covers: the stored document less the images' labels, the text without
    its surrounding whitespace, and the endpoint class (left out for the real service, so
    the keys of requests stored before it still match)."""
    doc = request_document(request)
    parts = [{k: v for k, v in part.items() if k != "label"} for part in doc["parts"]]
    doc["parts"] = _strip_ends(parts)
    if endpoint != REAL_SERVICE:
        doc["endpoint"] = endpoint
    return doc


def _strip_ends(parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The prompt's surrounding whitespace dropped: a line magic and a cell ending in a
    newline ask the same thing."""
    if parts and "text" in parts[0]:
        parts[0] = {**parts[0], "text": parts[0]["text"].lstrip()}
    if parts and "text" in parts[-1]:
        parts[-1] = {**parts[-1], "text": parts[-1]["text"].rstrip()}
    return [part for part in parts if part.get("text", None) != ""]


def key_for(
    request: Request, history: Sequence[types.Content], endpoint: str = REAL_SERVICE
) -> str:
    return cache_key({"request": key_document(request, endpoint), "history": _history_doc(history)})


def keys_for(
    request: Request, history: Sequence[types.Content], endpoint: str = REAL_SERVICE
) -> tuple[str, ...]:
    """The keys the store may hold this request under, its own first; then the key it had
    before keys left out labels and surrounding whitespace (the store still checks which
    endpoint made such a row); and, for a call sent to a shut-down model's replacement,
    the keys the shut-down model answered it under, so an old notebook re-runs from the
    store as it did before the shutdown."""
    asked = [request]
    if request.replaced:
        asked.append(replace(request, model=resolve_model(request.replaced)))
    asked += [implicit for one in asked if (implicit := _as_once_defaulted(one)) is not None]
    keys: list[str] = []
    for one in asked:
        for key in (key_for(one, history, endpoint), _legacy_key(one, history)):
            if key not in keys:
                keys.append(key)
    return tuple(keys)


# What nb_banana sent for an unset ratio and size before it left them to the model and the
# API (December 2026): a cell stored then is still answered from the store, made square.
IMPLICIT_ASPECT, IMPLICIT_SIZE = "1:1", "1K"


def _as_once_defaulted(request: Request) -> Request | None:
    """The request as it went out when the ratio and size were filled in for the user."""
    if request.aspect and request.size:
        return None
    return replace(request, aspect=request.aspect or IMPLICIT_ASPECT,
                   size=request.size or IMPLICIT_SIZE)  # fmt: skip


def made_square(request: Request, row: Row) -> bool:
    """The stored answer was asked with the ratio nb_banana once filled in, not the model's
    choice this request leaves it: it was made square."""
    return not request.aspect and row.request.get("aspect") == IMPLICIT_ASPECT


def _legacy_key(request: Request, history: Sequence[types.Content]) -> str:
    """The key as it was computed before the endpoint, labels and whitespace were settled."""
    doc = {"request": request_document(request), "history": _history_doc(history, legacy=True)}
    return cache_key(doc)


def _history_doc(history: Sequence[types.Content], legacy: bool = False) -> list[dict[str, Any]]:
    doc = []
    for content in history:
        parts = []
        last = len(content.parts or []) - 1
        for i, part in enumerate(content.parts or []):
            text = part.text
            if text is not None and not legacy and content.role == "user":  # as _strip_ends
                text = text.lstrip() if i == 0 else text
                text = text.rstrip() if i == last else text
            entry: dict[str, Any] = {"text": text, "thought": part.thought}
            if part.inline_data and part.inline_data.data:
                entry["image"] = hashlib.sha256(part.inline_data.data).hexdigest()
            if part.thought_signature:
                entry["signature"] = hashlib.sha256(part.thought_signature).hexdigest()
            parts.append(entry)
        doc.append({"role": content.role, "parts": parts})
    return doc


def record(store: Store, key: str, result: Result, endpoint: str) -> int:
    """Write the images (originals and previews) first, then the row, with the endpoint
    class that answered (what budgets and ``%banana usage`` split spending by)."""
    entries = _image_entries(store, result)
    replies = []
    for reply in result.replies:
        images = [next(entries) for _ in reply.images]
        replies.append({
            "content": wire.content_to_doc(reply.content, store),
            "text": reply.text, "thoughts": reply.thoughts,
            "finish_reason": reply.finish_reason, "usage": vars(reply.usage), "images": images,
            "grounding": reply.grounding.to_doc() if reply.grounding else None,
            **({"drafts": _draft_entries(store, reply.drafts)} if reply.drafts else {}),
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
        "endpoint": endpoint,
    }
    return store.record(row)


def _draft_entries(store: Store, drafts: Sequence[wire.OutImage]) -> list[dict[str, Any]]:
    """A reply's draft pictures as blobs, so a re-run from the store shows them too."""
    names = store.put_blobs([(d.data, d.mime_type) for d in drafts])
    return [{"mime_type": d.mime_type, "width": d.width, "height": d.height, "blob": name}
            for d, name in zip(drafts, names, strict=True)]  # fmt: skip


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
    # The long thought signatures too, in the same parallel write: ``content_to_doc`` then
    # finds them there instead of writing (and syncing) them one by one.
    signatures = [(data, wire.SIGNATURE_MIME) for reply in result.replies
                  for data in wire.long_signatures(reply.content)]  # fmt: skip
    names = iter(store.put_blobs(writes + signatures))
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
                drafts=tuple(
                    wire.OutImage(store.blob(d["blob"]), d["mime_type"], d["width"], d["height"])
                    for d in doc.get("drafts", ())
                ),
            )
        )
    return tuple(replies), tuple(previews)


def _stored_preview(store: Store, entry: dict[str, Any], out: wire.OutImage) -> Preview:
    if "preview" not in entry:
        return Preview(out.data, out.mime_type, out.width, out.height)
    width, height = entry["preview_size"]
    return Preview(store.blob(entry["preview"]), entry["preview_mime_type"], width, height)
