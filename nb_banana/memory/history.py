"""The store seen from a notebook: the history gallery, exports, and spending totals."""

from __future__ import annotations

import csv
import html
import json
import time
from pathlib import Path

from ..answer import credentials, stamp
from ..answer.previews import thumbnail_b64
from ..gemini.usage import format_usd
from .store import MissingBlobError, Row, Store

_THUMB_PX = 192


def gallery_html(rows: list[Row], store: Store, query: str) -> str:
    """Newest first: a thumbnail per image with its prompt, model, cost and date."""
    if not rows:
        what = f" matching '{html.escape(query)}'" if query else ""
        return f"<p>No generations{what} in {html.escape(str(store.root))} yet.</p>"
    cards = "".join(_card(row, store) for row in rows)
    return (
        '<div class="nb-banana-history" style="display: grid; gap: 10px; '
        "grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); "
        'font-family: var(--jp-ui-font-family, system-ui, sans-serif);">'
        f"{cards}</div>"
    )


def _card(row: Row, store: Store) -> str:
    entries = [img for reply in row.replies for img in reply["images"]]
    thumbs = "".join(
        f'<img src="data:image/jpeg;base64,{thumb}" '
        'style="width: 100%; border-radius: 4px; margin-bottom: 4px;"/>'
        for e in entries[:4]
        if (thumb := _thumbnail(store, e))
    )
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(row.created))
    return (
        '<div style="border: 1px solid var(--jp-border-color2, #ddd); border-radius: 6px; '
        f'padding: 6px;">{thumbs}<div style="font-size: 12px;">{html.escape(row.prompt[:160])}'
        f'</div><div style="font-size: 11px; opacity: 0.7;">#{row.id} · {html.escape(row.model)}'
        f" · {format_usd(row.cost)} · {when}</div></div>"
    )


def _thumbnail(store: Store, entry: dict) -> str:
    """The card's picture, or "" when its file is gone (the row stays listed)."""
    try:
        return thumbnail_b64(store.blob(entry.get("preview") or entry["blob"]), _THUMB_PX)
    except MissingBlobError:
        return ""


def export(rows: list[Row], store: Store, folder: Path) -> tuple[int, Path]:
    """Copy every image (with provenance) into ``folder`` plus index.json and index.csv."""
    folder.mkdir(parents=True, exist_ok=True)
    index = []
    for row in rows:
        entries = [img for reply in row.replies for img in reply["images"]]
        for number, entry in enumerate(entries, start=1):
            name = f"{row.id:05d}-{number}{Path(entry['blob']).suffix}"
            try:
                data = store.blob(entry["blob"])
            except MissingBlobError:  # its file was cleaned away: nothing to export
                continue
            info = {"prompt": row.prompt, **_settings(row), "generation_id": row.id}
            if entry["mime_type"] == "image/png" and not credentials.carries(data, "image/png"):
                data = stamp.png_with_provenance(data, info)  # else kept exactly as sent
            (folder / name).write_bytes(data)
            index.append({"file": name, "id": row.id, "prompt": row.prompt, "model": row.model,
                          "aspect": row.request.get("aspect"), "size": row.request.get("size"),
                          "width": entry["width"], "height": entry["height"],
                          "cost_usd": round(row.cost, 4), "created": row.created})  # fmt: skip
    (folder / "index.json").write_text(json.dumps(index, indent=2, ensure_ascii=False))
    with (folder / "index.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(index[0]) if index else ["file"])
        writer.writeheader()
        writer.writerows(index)
    return len(index), folder


def row_provenance(row: Row) -> dict:
    """A stored generation as ``provenance()`` tells it, for a file found by its hash."""
    references = [part for part in row.request.get("parts", []) if "image_sha256" in part]
    return {"prompt": row.prompt, **_settings(row), "references": references, "chat": row.chat,
            "turn": row.turn, "generation_id": row.id,
            "found": "in the store, by the picture's hash"}  # fmt: skip


def _settings(row: Row) -> dict:
    keys = ("model", "aspect", "size", "count", "search", "thoughts")
    return {k: row.request.get(k) for k in keys}
