"""Chats seen from a notebook: the list of threads and one thread's timeline, as HTML strips."""

from __future__ import annotations

import html
import io
from typing import Any

from PIL import Image

from ..answer.previews import thumbnail_b64
from ..gemini.models import INLINE_REQUEST_BYTES, describe_shape
from ..memory.chat import Chat, Chats, Turn

_STRIP = (
    "display: flex; gap: 10px; overflow-x: auto; padding: 4px 0; "
    "font-family: var(--jp-ui-font-family, system-ui, sans-serif);"
)
_CARD = (
    "flex: 0 0 180px; border: 1px solid var(--jp-border-color2, #ddd); border-radius: 6px; "
    "padding: 6px; font-size: 12px;"
)
_MUTED = "opacity: 0.7; font-size: 11px;"


def _images(doc: dict[str, Any], chat: Chat) -> list[bytes]:
    return [
        chat.blobs.blob(part["inline_data"]["blob"])
        for part in doc.get("parts", [])
        if "blob" in part.get("inline_data", {}) and not part.get("thought")
    ]


def _text(doc: dict[str, Any]) -> str:
    return "".join(p.get("text", "") for p in doc.get("parts", []) if not p.get("thought"))


def _img(data: bytes, px: int) -> str:
    return (
        f'<img src="data:image/jpeg;base64,{thumbnail_b64(data, px)}" '
        f'style="max-width: 100%; border-radius: 4px; display: block; margin: 4px 0;"/>'
    )


def _shape(turn: Turn, picture: bytes | None) -> str:
    """`` · 16:9 · 1376×768 · 2K · thinking high``: what came back, and what a follow-up of
    this turn keeps (a ratio only if one was asked)."""
    o = turn.options
    parts = [_came_back(o.get("aspect", ""), picture), o.get("size", "")]
    if o.get("thinking"):
        parts.append(f"thinking {o['thinking']}")
    return "".join(f" · {p}" for p in parts if p)


def _came_back(aspect: str, picture: bytes | None) -> str:
    """The picture's size and shape, read from its header (no decoding)."""
    if picture is None:
        return aspect
    with Image.open(io.BytesIO(picture)) as img:
        return describe_shape(aspect, *img.size)


def _turn_card(number: int, turn: Turn, chat: Chat) -> str:
    user_imgs = "".join(_img(d, 64) for d in _images(turn.user, chat))
    model_imgs = _images(turn.model, chat)
    picked = f" · image {turn.picked + 1} of {len(turn.samples)}" if len(turn.samples) > 1 else ""
    shape = _shape(turn, model_imgs[0] if model_imgs else None)
    return (
        f'<div style="{_CARD}"><div style="{_MUTED}">turn {number}{shape}{picked}</div>'
        f"<div><b>you:</b> {html.escape(turn.prompt[:200])}</div>{user_imgs}"
        + (_img(model_imgs[0], 168) if model_imgs else "")
        + f'<div style="{_MUTED}">{html.escape(_text(turn.model)[:160])}</div></div>'
    )


def timeline_html(chat: Chat, next_bytes: int) -> str:
    """The thread's turns, and what its next request would weigh (``next_bytes``, the
    history sent back with every turn, against the API's inline limit)."""
    if not chat.turns:
        return f"<p>Chat '{html.escape(chat.name)}' has no turns yet.</p>"
    cards = "".join(_turn_card(i, t, chat) for i, t in enumerate(chat.turns, start=1))
    head = (
        f"<div><b>{html.escape(chat.name)}</b> · {html.escape(chat.model_id)}"
        f'<span style="{_MUTED}"> · {html.escape(next_request_line(next_bytes))}</span></div>'
    )
    return f'<div class="nb-banana-timeline">{head}<div style="{_STRIP}">{cards}</div></div>'


def timeline_text(chat: Chat, next_bytes: int) -> str:
    lines = [f"{chat.name} ({chat.model_id}) · {next_request_line(next_bytes)}"]
    lines += [
        f"  {i}. {t.prompt}{_shape(t, next(iter(_images(t.model, chat)), None))}"
        for i, t in enumerate(chat.turns, start=1)
    ]
    return "\n".join(lines)


def next_request_line(size: int) -> str:
    """``next request ≈ 34.2 MB of the API's 100 MB``: how close a thread is to the limit."""
    return (f"next request ≈ {size / 1e6:.1f} MB of the API's "
            f"{INLINE_REQUEST_BYTES / 1e6:.0f} MB")  # fmt: skip


def chats_html(chats: Chats) -> str:
    if not chats.chats:
        return "<p>No chats in this notebook yet: a %%banana cell starts one.</p>"
    cards = []
    for chat in chats.chats.values():
        last = chat.turns[-1] if chat.turns else None
        images = _images(last.model, chat) if last else []
        mark = " (current)" if chat.name == chats.current else ""
        cards.append(
            f'<div style="{_CARD}"><b>{html.escape(chat.name)}</b>{mark}'
            f'<div style="{_MUTED}">{len(chat.turns)} turns · {html.escape(chat.model_id)}</div>'
            + (_img(images[0], 168) if images else "")
            + f"<div>{html.escape(last.prompt[:120]) if last else ''}</div></div>"
        )
    return f'<div class="nb-banana-chats" style="{_STRIP}">{"".join(cards)}</div>'


def chats_text(chats: Chats) -> str:
    return "\n".join(
        f"{c.name}{' *' if c.name == chats.current else ''}: {len(c.turns)} turns, {c.model_id}"
        + (f", last: {c.turns[-1].prompt}" if c.turns else "")
        for c in chats.chats.values()
    )
