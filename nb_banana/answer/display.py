"""Result -> display bundle: an HTML grid of the images as received, a caption, provenance.

Bundles carry a ``text/plain`` fallback for terminals and an ``nb_banana`` metadata entry
(model, settings, tokens) so a saved notebook records how each picture was made.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import re
from typing import Any

from ..gemini.models import describe_shape
from ..gemini.secrets import redact
from ..gemini.usage import format_usd
from .comparison import Comparison, Row
from .drawing import draw_with
from .dry_run import DryRun
from .each_result import EachResult, notes, summary
from .previews import Preview, make_preview
from .result import Result

_BOX = (
    "font-family: var(--jp-ui-font-family, system-ui, sans-serif); "
    "color: var(--jp-ui-font-color1, inherit); max-width: 100%;"
)
_MUTED = "opacity: 0.72; font-size: 12px; margin-top: 6px;"
_CHIPS_FRAME = "display: block; border: 0; width: 100%; height: 72px; margin-top: 6px;"
_CODE = (
    "font-family: var(--jp-code-font-family, monospace); font-size: 12px; "
    "max-height: 320px; overflow: auto;"
)
# A lone picture keeps its proportions but never runs past the screen's height; in a grid
# each picture fills its column.
_IMG_ALONE = (
    "display: block; max-width: 100%; max-height: 70vh; width: auto; height: auto; "
    "border-radius: 6px;"
)
_IMG_IN_GRID = "display: block; width: 100%; height: auto; border-radius: 6px;"
# A comparison's picture opened on click: over the page at its own size, shrunk to fit
# what is in view, the rest dimmed; a click closes it. Fixed, it is placed in the window,
# or in JupyterLab's notebook area (which contains it): 100 % is that area, not 100vw.
# Scripts and styles only work where the page trusts the output (JupyterLab, Notebook,
# VS Code, nbconvert's HTML); elsewhere the picture just stays in its column.
_ZOOM_CSS = (
    ".nb-banana-zoom { cursor: zoom-in; } "
    ".nb-banana-zoom.nb-banana-open { position: fixed; inset: 0; margin: auto; z-index: 10000; "
    "width: auto !important; height: auto !important; max-width: 100%; max-height: 100%; "
    "cursor: zoom-out; box-shadow: 0 0 0 100vmax rgba(0, 0, 0, 0.8); }"
)
# A contact sheet's element with no picture (failed, or not asked).
_MISSING = "padding: 8px; border: 1px dashed currentColor; border-radius: 6px;"


def caption(result: Result) -> str:
    req = result.request
    outs = result.outputs
    parts = [
        req.model.id,
        describe_shape(req.aspect, outs[0].width, outs[0].height) if outs else req.aspect,
        req.size,
        f"{len(outs)} images" if len(outs) > 1 else "",
        "cached (no call, no cost)" if result.cached else f"{result.elapsed:.1f} s",
        f"{result.usage.total_tokens:,} tokens" if result.usage.total_tokens else "",
        "" if result.cached else f"~{format_usd(result.cost)}" + _simulated(result),
        f"chat {result.chat}, turn {result.turn}" if result.chat else "",
    ]
    return " · ".join(p for p in parts if p)


def _simulated(result: Result) -> str:
    return " (simulated)" if result.simulated else ""


def metadata(result: Result) -> dict[str, Any]:
    req = result.request
    return {
        "nb_banana": {
            "model": req.model.id,
            "aspect": req.aspect,
            "size": req.size,
            "count": req.count,
            "search": list(req.search),
            "thinking": req.thinking,
            "prompt": req.text,
            "images": [
                {"width": o.width, "height": o.height, "mime_type": o.mime_type}
                for o in result.outputs
            ],
            "tokens": result.usage.total_tokens,
            "cost_usd": round(result.cost, 4),
            "elapsed_s": round(result.elapsed, 2),
            "chat": result.chat,
            "sources": [vars(s) for s in result.sources],
            "simulated": result.simulated,
            "cached": result.cached,
            "generation_id": result.generation_id,
        }
    }


def shown(result: Result) -> list[tuple[bytes, str, int]]:
    """What the notebook embeds per image: the preview when there is one, else the original."""
    if result.previews:
        return [(p.data, p.mime_type, p.width) for p in result.previews]
    return [(o.data, o.mime_type, o.width) for o in result.outputs]


def result_bundle(result: Result, *, with_text: bool = True) -> tuple[dict, dict]:
    """The result as one display: pictures, caption, notes, sources and the model's text.

    ``with_text=False`` leaves the text out of every representation, HTML and plain alike,
    for a caller that shows it on its own (the magic, as Markdown), so it appears once.
    """
    # Built as one flat list joined once: the base64 pictures are most of the bytes, and
    # each nested f-string or join would copy all of them again.
    columns = min(len(result.outputs), 3)
    style = _IMG_IN_GRID if columns > 1 else _IMG_ALONE
    pieces = [f'<div class="nb-banana-result" style="{_BOX}">']
    if columns > 1:
        pieces.append(f'<div style="display: grid; gap: 8px; '
                      f'grid-template-columns: repeat({columns}, minmax(0, 1fr));">')  # fmt: skip
    for data, mime, width in shown(result):
        pieces.extend(_figure(data, mime, width, result.request.text, style))
    if columns > 1:
        pieces.append("</div>")
    # The same order as the magic's output, where the text follows as its own Markdown:
    # pictures, how they were made, then what the model said.
    if result.thoughts or result.drafts:
        pieces.extend(_thoughts_folded(result))
    pieces.append(f'<div style="{_MUTED}">🍌 {html.escape(caption(result))}</div>')
    pieces.extend(f'<div style="{_MUTED}">🔏 {html.escape(line)}</div>'
                  for line in credential_lines(result))  # fmt: skip
    pieces.extend(f'<div style="{_MUTED}">ℹ {html.escape(n)}</div>' for n in result.all_notes)
    pieces.extend(grounding_html(result))
    if with_text and result.text:
        pieces.append(f'<div style="white-space: pre-wrap; margin-top: 8px;">'
                      f"{html.escape(result.text)}</div>")  # fmt: skip
    pieces.append("</div>")
    data = {"text/html": "".join(pieces), "text/plain": plain(result, with_text=with_text)}
    return data, metadata(result)


def comparison_bundle(comparison: Comparison) -> tuple[dict, dict]:
    """A comparison side by side: a column per model in the order asked, a row per take.

    Each column is headed by the model's name, shows its pictures (one per take, so ``-n 2``
    makes two rows) and under them its caption (seconds, tokens, cost), its notes (an
    option it dropped) and its sources; a model that failed shows its one line instead.
    Columns are a third of the width, so three fit side by side, and a picture opens at
    full size on click. Every cell is placed in one grid by its column and row, so takes
    line up across models even when their pictures differ in height.
    """
    rows = comparison.rows
    takes = max((len(shown(row.result)) for row in rows if row.result is not None), default=1)
    fit = min(len(rows), 3)  # fewer than three models: the columns keep a third's width
    pieces = [f'<div class="nb-banana-comparison" style="{_BOX}"><style>{_ZOOM_CSS}</style>',
              f'<div style="display: grid; gap: 6px 8px; align-items: start; '
              f"width: {100 * fit / 3:.4g}%; "
              f'grid-template-columns: repeat({len(rows)}, minmax(0, 1fr));">']  # fmt: skip
    lines = []
    for column, row in enumerate(rows, start=1):
        line = _column(pieces, row, column, takes)
        lines.append(f"{row.model.name}: {line}")
    pieces.append("</div>")
    total = f"{len(rows)} models compared · ~{format_usd(comparison.cost)} in all"
    pieces.append(f'<div style="{_MUTED}">🍌 {total}</div></div>')
    meta = [metadata(result)["nb_banana"] for result in comparison.values()]
    return (
        {"text/html": "".join(pieces), "text/plain": "\n".join([*lines, total])},
        {"nb_banana": {"comparison": meta}},
    )


def _column(pieces: list[str], row: Row, column: int, takes: int) -> str:
    """Add one model's cells to ``pieces``: its name, its takes (or the line saying why it
    has none), what goes under them. Returns its plain-text line."""
    model = row.model.id
    pieces.append(_cell("nb-banana-model", model, column, 1)
                  + f"<b>{html.escape(row.model.name)}</b></div>")  # fmt: skip
    if row.result is None:
        failed = redact(str(row.error))
        pieces.append(_cell("nb-banana-failed", model, column, 2, _MUTED)
                      + f"✖ {html.escape(model)}: {html.escape(failed)}</div>")  # fmt: skip
        return f"failed: {failed}"
    result = row.result
    for take, (data, mime, _) in enumerate(shown(result), start=1):
        pieces.append(_cell("nb-banana-take", model, column, 1 + take))
        pieces.extend(_zoomable(data, mime, result.request.text))
        pieces.append("</div>")
    pieces.append(_cell("nb-banana-below", model, column, 2 + takes))
    pieces.extend(_below(result))
    pieces.append("</div>")
    return plain(result)


def _cell(kind: str, model_id: str, column: int, row: int, style: str = "") -> str:
    """A comparison's grid cell, opened: which model's it is, where it sits."""
    return (f'<div class="{kind}" data-model="{html.escape(model_id, quote=True)}" '
            f'style="grid-column: {column}; grid-row: {row}; {style}">')  # fmt: skip


def _zoomable(data: bytes, mime: str, alt: str) -> tuple[str, str, str]:
    """A picture that fills its column and opens at full size over the page on click (and
    closes on the next); where a page strips scripts and styles (GitHub, nbviewer) it stays
    a plain picture."""
    return (
        f'<img class="nb-banana-zoom" onclick="this.classList.toggle(\'nb-banana-open\')" '
        f'src="data:{mime};base64,',
        binascii.b2a_base64(data, newline=False).decode("ascii"),
        f'" alt="{html.escape(alt[:200], quote=True)}" style="{_IMG_IN_GRID}"/>',
    )


def _below(result: Result) -> list[str]:
    """What a comparison shows under a model's pictures: its thoughts (folded), caption,
    credentials, notes (each its own ``nb-banana-note``), sources and the model's text."""
    pieces = []
    if result.thoughts:
        pieces.append(
            '<details style="margin-top: 6px;"><summary>Thoughts</summary>'
            f'<div style="white-space: pre-wrap; {_MUTED}">{html.escape(result.thoughts)}</div>'
            "</details>"
        )
    pieces.append(f'<div style="{_MUTED}">🍌 {html.escape(caption(result))}</div>')
    pieces.extend(f'<div style="{_MUTED}">🔏 {html.escape(line)}</div>'
                  for line in credential_lines(result))  # fmt: skip
    pieces.extend(f'<div class="nb-banana-note" style="{_MUTED}">ℹ {html.escape(note)}</div>'
                  for note in result.all_notes)  # fmt: skip
    pieces.extend(grounding_html(result))
    if result.text:
        pieces.append(f'<div style="white-space: pre-wrap; margin-top: 6px;">'
                      f"{html.escape(result.text)}</div>")  # fmt: skip
    return pieces


def _figure(data: bytes, mime: str, width: int, alt: str, style: str) -> tuple[str, str, str]:
    """A picture as three pieces, the base64 in the middle, for the caller's single join."""
    return (
        f'<figure style="margin: 0; max-width: min(100%, {width}px);">'
        f'<img src="data:{mime};base64,',
        binascii.b2a_base64(data, newline=False).decode("ascii"),
        f'" alt="{html.escape(alt[:200], quote=True)}" style="{style}"/></figure>',
    )


def grounding_html(result: Result) -> list[str]:
    """The sources a ``--search`` reply names, and Google's search chips for it.

    Google's terms ask an app that shows a grounded answer to show its search suggestions
    (``searchEntryPoint.renderedContent``, HTML and CSS made by the API) as they come. That
    CSS styles bare class names (``.container``, ``.chip``), so it goes into a sandboxed
    frame, where it cannot restyle the notebook, and its links open in a new tab.
    """
    pieces = []
    if result.sources:
        links = " · ".join(
            _link(s.title, s.uri) + (f" ({_link('image', s.image_uri)})" if s.image_uri else "")
            for s in result.sources
        )
        pieces.append(f'<div style="{_MUTED}">🔎 Sources: {links}</div>')
    suggestions = dict.fromkeys(
        reply.grounding.suggestions_html
        for reply in result.replies
        if reply.grounding and reply.grounding.suggestions_html
    )
    pieces.extend(_chips_frame(chips) for chips in suggestions)
    return pieces


def _chips_frame(chips: str) -> str:
    page = html.escape(f'<base target="_blank">{chips}', quote=True)
    return (
        '<iframe class="nb-banana-search-suggestions" title="Google Search suggestions" '
        'sandbox="allow-popups allow-popups-to-escape-sandbox" '
        f'style="{_CHIPS_FRAME}" srcdoc="{page}"></iframe>'
    )


def _link(title: str, uri: str) -> str:
    """A link for web addresses only: a reply's odd ``javascript:`` URI stays plain text."""
    label = html.escape(title or uri)
    if not uri.startswith(("https://", "http://")):
        return label
    return f'<a href="{html.escape(uri, quote=True)}" target="_blank" rel="noopener">{label}</a>'


def credential_lines(result: Result) -> list[str]:
    """What the pictures' Content Credentials say, each distinct line once."""
    return list(dict.fromkeys(found.line() for found in result.credentials if found))


def plain(result: Result, *, with_text: bool = True) -> str:
    lines = [f"[{len(result.outputs)} image(s)] {caption(result)}", *credential_lines(result)]
    if result.sources:
        lines.append("sources: " + "; ".join(f"{s.title} <{s.uri}>" for s in result.sources))
    if with_text and result.text:
        lines.append(result.text)
    lines.extend(f"note: {n}" for n in result.all_notes)
    return "\n".join(lines)


# A draft in the folded thoughts: small, as the sketch it is (and light in the .ipynb).
DRAFT_PX = 256
# The live view's draft: big enough to watch the picture form, light enough to resend.
LIVE_DRAFT_PX = 512


def _thoughts_folded(result: Result) -> list[str]:
    """The thought summaries (Markdown's bold and paragraphs drawn) and the drafts as small
    pictures, folded under the answer: there to read, out of the picture's way."""
    what = "Thoughts" + (f" and {len(result.drafts)} draft(s)" if result.drafts else "")
    pieces = ['<details class="nb-banana-thoughts" style="margin-top: 6px;">'
              f"<summary>{what}</summary>",
              f'<div style="{_MUTED}">{markdown_html(result.thoughts)}</div>']  # fmt: skip
    if result.drafts:
        pieces.append('<div style="display: flex; gap: 6px; flex-wrap: wrap;">')
        for i, draft in enumerate(result.drafts, 1):
            small = make_preview(draft.data, draft.mime_type, DRAFT_PX)
            pieces.extend(_figure(small.data, small.mime_type, small.width, f"draft {i}",
                                  "display: block; border-radius: 4px; opacity: 0.9;"))  # fmt: skip
        pieces.append("</div>")
    pieces.append("</details>")
    return pieces


def markdown_html(text: str) -> str:
    """Thought summaries as HTML: the Markdown they use (``**headings**``, blank-line
    paragraphs, line breaks), everything else escaped."""
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    out = []
    for paragraph in paragraphs:
        escaped = html.escape(paragraph.strip())
        bold = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", escaped)
        out.append(f'<p style="margin: 4px 0;">{bold.replace(chr(10), "<br/>")}</p>')
    return "".join(out)


def live_bundle(
    model_id: str, seconds: float, thoughts: str, draft: Preview | None, drafts: int
) -> dict[str, str]:
    """A streamed call while it runs: the thoughts so far, the latest draft, the time.
    Replaced in place by the answer (``result_bundle``) when it is complete."""
    head = f"💭 {model_id} is thinking · {seconds:.0f} s (interrupt the kernel to stop)"
    pieces = [f'<div class="nb-banana-live" style="{_BOX}">',
              f'<div style="{_MUTED}">{html.escape(head)}</div>',
              f'<div class="nb-banana-live-thoughts">{markdown_html(thoughts)}</div>']  # fmt: skip
    lines = [head, thoughts]
    if draft is not None:
        label = f"draft {drafts}"
        pieces.append(f'<div class="nb-banana-draft" style="{_MUTED}">✏️ {label}</div>')
        pieces.extend(_figure(draft.data, draft.mime_type, draft.width, label,
                              _IMG_ALONE + " opacity: 0.85;"))  # fmt: skip
        lines.append(f"[{label}: {draft.width}×{draft.height}]")
    pieces.append("</div>")
    return {"text/html": "".join(pieces), "text/plain": "\n".join(line for line in lines if line)}


def status_bundle(model_id: str, seconds: float, count: int) -> dict[str, str]:
    what = f"{count} images" if count > 1 else "an image"
    text = f"⏳ Asking {model_id} for {what} · {seconds:.0f} s (interrupt the kernel to stop)"
    return {
        "text/html": f'<div class="nb-banana-status" style="{_BOX} {_MUTED}">'
        f"{html.escape(text)}</div>",
        "text/plain": text,
    }


def contact_sheet_bundle(run: EachResult) -> tuple[dict, dict]:
    """A ``--each`` run as a contact sheet: each element's thumbnails over its number and
    label, in element order (a failed one shows why, one not asked says so), then the run's
    summary line and notes. Thumbnails, not previews: a hundred must not weigh down the
    notebook."""
    failures = {failure.index: failure for failure in run.failed}
    pieces = [f'<div class="nb-banana-each" style="{_BOX}">',
              '<div style="display: grid; gap: 8px; '
              'grid-template-columns: repeat(auto-fill, minmax(128px, 1fr));">']  # fmt: skip
    lines = []
    for element in run.elements:
        done, failure = run.done.get(element.index), failures.get(element.index)
        label = f"#{element.index} {element.label}"
        pieces.append('<figure style="margin: 0;">')
        if done is not None:
            pieces.extend(f'<img src="data:image/jpeg;base64,{base64.b64encode(t).decode()}" '
                          f'alt="{html.escape(label, quote=True)}" style="{_IMG_IN_GRID}"/>'
                          for t in done.thumbs)  # fmt: skip
            lines.append(f"{label}: {done.images} image(s)" + " (from the store)" * done.cached)
        else:
            why = f"✖ {failure.reason}" if failure is not None else "not asked"
            pieces.append(f'<div style="{_MUTED} {_MISSING}">{html.escape(why)}</div>')
            lines.append(f"{label}: {why}")
        pieces.append(f'<figcaption style="{_MUTED}">{html.escape(label)}</figcaption></figure>')
    pieces.append("</div>")
    said = [summary(run), *notes(run)]
    pieces.append(f'<div style="{_MUTED}">🍌 {html.escape(said[0])}</div>')
    pieces.extend(f'<div style="{_MUTED}">ℹ {html.escape(note)}</div>' for note in said[1:])
    pieces.append("</div>")
    meta = {"nb_banana": {"each": {"total": len(run), "done": len(run.done),
                                   "failed": [vars(f) for f in run.failed],
                                   "cost_usd": round(run.cost, 4)}}}  # fmt: skip
    plain_text = "\n".join([*lines, *said])
    return {"text/html": "".join(pieces), "text/plain": plain_text}, meta


def dry_run_bundle(dry: DryRun) -> tuple[dict, dict]:
    req = dry.request
    thumbs = "".join(
        f'<figure style="margin: 0 8px 0 0; display: inline-block; text-align: center;">'
        f'<img src="data:{p.image.mime_type};base64,{base64.b64encode(p.image.data).decode()}" '
        f'style="max-width: 96px; max-height: 96px; border-radius: 4px;"/>'
        f'<figcaption style="{_MUTED}">{html.escape(p.label)} · {p.image.width}×{p.image.height}'
        f"</figcaption></figure>"
        for p in req.images
    )
    summary = (
        f"Dry run: nothing sent. POST {dry.endpoint}/…/models/{req.model.id}:generateContent"
        f" × {req.count} · {dry.history_turns} earlier turns"
        f" · {req.aspect or 'shape: the model’s choice'} · {req.size or 'size: the API’s 1K'}"
        + (
            " · would be answered from the store (no cost)"
            if dry.cached
            else f" · estimated ~{format_usd(dry.estimate)}"
        )
    )
    body = json.dumps(dry.body, indent=2, ensure_ascii=False)
    notes = "".join(f'<div style="{_MUTED}">ℹ {html.escape(n)}</div>' for n in req.notes)
    html_text = (
        f'<div class="nb-banana-dry-run" style="{_BOX}"><div><b>{html.escape(summary)}</b></div>'
        f'<div>{thumbs}</div><pre style="{_CODE}">'
        f"{html.escape(body)}</pre>{notes}</div>"
    )
    plain_text = "\n".join([summary, body, *(f"note: {n}" for n in req.notes)])
    return {"text/html": html_text, "text/plain": plain_text}, {}


draw_with(Result, result_bundle)
draw_with(Comparison, comparison_bundle)
draw_with(EachResult, contact_sheet_bundle)
draw_with(DryRun, dry_run_bundle)
