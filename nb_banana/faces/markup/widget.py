"""The drawing surface: an anywidget whose browser side (``widget.js``) edits the marks and
whose Python side turns them into the picture that is sent (``render.py``).

The browser gets a screen-sized preview and the marks list, and sends back only the marks:
the original stays in the kernel, unchanged, at full resolution.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import io
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import anywidget
from PIL import Image
from traitlets import Bytes, Dict, Int, List, TraitError, Tuple, Unicode, validate

from ...context import open_store_or_none, settings
from ...errors import ImageInputError, StoreError
from ...gemini import images
from .marks import PALETTE, Mark, metrics_for
from .render import render

_HERE = Path(__file__).parent
# The modes images.py sends as they are: a PIL image in one needs no conversion to draw on.
_PLAIN_MODES = {"L", "LA", "RGB", "RGBA"}


class Markup(anywidget.AnyWidget):
    """A picture to draw on, and the marks drawn so far.

    ``image`` is the picture with the marks, at the original's full size; ``marks`` are
    the marks as data (dicts with ``kind``, ``color``, ``points`` in the original's pixels
    and, for a label, ``text``). Wherever nb_banana takes an image (``{name}``, ``-i NAME``,
    ``generate``, the panel) a ``Markup`` stands for its marked-up picture.
    """

    _esm = _HERE / "widget.js"
    _css = _HERE / "widget.css"

    marks = List(Dict(), help="The marks, oldest first: what Undo drops and Clear empties.").tag(
        sync=True
    )
    picture = Bytes(help="The screen-sized preview the browser draws over.").tag(sync=True)
    picture_type = Unicode("image/jpeg").tag(sync=True)
    size = Tuple(Int(), Int(), help="The original's width and height in pixels.").tag(sync=True)
    palette = Dict(help="Colour name -> [mark colour, label outline].").tag(sync=True)
    metrics = Dict(help="Line width, arrow head, label size in image pixels.").tag(sync=True)

    def __init__(
        self,
        image: object,
        *,
        marks: Sequence[Mapping[str, Any]] | None = None,
        name: str = "image",
        owner: str | None = None,
    ) -> None:
        self._original = _picture(_one_image(image, name), name)
        self._metrics = metrics_for(*self._original.size)
        digest = _digest(self._original)
        # Whose marks these are: this mark-up's own (``owner``: the cell that made it and
        # its place there, or the panel's reference), else the picture's alone.
        self._key = digest if owner is None else f"{digest} {owner}"
        preview, preview_type = _preview(self._original, settings().preview_px)
        if marks is None:
            marks = _kept_marks(self._key, digest)
        super().__init__(
            picture=preview, picture_type=preview_type, size=self._original.size,
            palette={k: list(v) for k, v in PALETTE.items()}, metrics=self._metrics.as_dict(),
            marks=list(marks),
        )  # fmt: skip
        self.observe(self._keep, names="marks")

    def _keep(self, change: dict[str, Any]) -> None:
        """Every change of the marks kept in the store, by the mark-up and its picture, so
        re-running the cell (or a restarted kernel) opens it with its own marks drawn on."""
        store = open_store_or_none(settings().store)
        if store is None:
            return
        with contextlib.suppress(StoreError):  # the marks still work; only the copy is lost
            store.save_marks(self._key, change["new"])

    @property
    def original(self) -> Image.Image:
        """The picture as given, decoded once; marks never touch it."""
        return self._original

    @property
    def image(self) -> Image.Image:
        """The picture with the marks drawn on, as a new PIL image the original's size."""
        return render(self._original, [Mark.parse(m) for m in self.marks], self._metrics)

    def undo(self) -> None:
        """Drop the newest mark (the Undo button)."""
        self.marks = self.marks[:-1]

    def clear(self) -> None:
        """Drop every mark (the Clear button): ``image`` is the original again."""
        self.marks = []

    def _banana_image_(self) -> Image.Image:
        """What ``images.py`` sends for this widget: the marked-up picture."""
        return self.image

    def __repr__(self) -> str:
        width, height = self.size
        return f"<nb_banana markup: {width}×{height}, {len(self.marks)} mark(s)>"

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict, dict] | None:
        """The widget view, and beside it a still of the marked picture.

        A front end that holds the widget's state (JupyterLab, Notebook, VS Code, Colab while
        the kernel runs) ranks the widget view first and draws the canvas; one without it
        (exported HTML, ``jupyter nbconvert``, GitHub, nbviewer, a saved notebook on disk)
        shows ``text/html``: the picture with the marks the kernel knew when it was shown.
        """
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:  # closed: nothing to show
            return None
        data, metadata = bundle
        return {**data, "text/html": self._still_html()}, metadata

    def _still_html(self) -> str:
        """The marked picture, screen-sized, over one line saying it is a mark-up."""
        still, still_type = _preview(self.image, settings().preview_px)
        width, height = self.size
        count = len(self.marks)
        line = (
            f"🖍 A mark-up of a {width}×{height} picture, {count} mark{'s' * (count != 1)} "
            "drawn; run the notebook to draw on it."
        )
        return (
            '<div class="nb-banana-markup-still">'
            f'<img src="data:{still_type};base64,{base64.b64encode(still).decode()}" '
            f'alt="{html.escape(line, quote=True)}" '
            'style="display: block; max-width: 100%; height: auto; border-radius: 6px;"/>'
            f'<div style="opacity: 0.72; font-size: 12px; margin-top: 6px;">{html.escape(line)}'
            "</div></div>"
        )

    @validate("marks")
    def _check_marks(self, proposal: dict[str, Any]) -> list[dict[str, object]]:
        """Every mark checked (and rounded to pixels) as it is set, from Python or the page."""
        checked = []
        for number, raw in enumerate(proposal["value"], start=1):
            try:
                checked.append(Mark.parse(raw).as_dict())
            except ValueError as exc:
                raise TraitError(f"mark {number} of {len(proposal['value'])}: {exc}.") from None
        return checked


def _digest(picture: Image.Image) -> str:
    """The picture's part of its marks' key in the store: its pixels, whatever holds it."""
    digest = hashlib.sha256(f"{picture.mode} {picture.size}".encode())
    digest.update(picture.tobytes())
    return digest.hexdigest()


def _kept_marks(key: str, digest: str) -> list[dict[str, object]]:
    """The marks last drawn on this mark-up, or none (no store, or never marked).

    A store written before marks were kept per mark-up holds them by the picture alone
    (``digest``): a mark-up with none of its own yet opens with those, and takes a copy as
    its own at once, so the marks it shows are its own from then on, whatever another
    mark-up of the picture draws later.
    """
    store = open_store_or_none(settings().store)
    if store is None:
        return []
    try:
        kept = store.marks(key)
        if kept is None and key != digest:
            kept = store.marks(digest)
            if kept:
                store.save_marks(key, kept)
        return kept or []
    except StoreError:
        return []


def _one_image(value: object, name: str) -> object:
    """A mark-up is drawn on one picture: a result with one stands for it, while a list or
    a result of several is refused with the way to pick one."""
    result = sys.modules.get("nb_banana.answer.result")
    outputs = value.outputs if result and isinstance(value, result.Result) else None
    if outputs is not None and len(outputs) == 1:
        return outputs[0].data
    if outputs:
        raise ImageInputError(
            name, _pick_one(f"a result of {len(outputs)} pictures", f"{name}.images[0]")
        )
    if isinstance(value, (list, tuple)):
        raise ImageInputError(name, _pick_one(f"a {type(value).__name__}", f"{name}[0]"))
    return value


def _pick_one(what: str, example: str) -> str:
    return f"is {what}; mark up one picture at a time, e.g. nb_banana.markup({example})."


def _picture(value: object, name: str) -> Image.Image:
    """The picture at full size, to draw on. A PIL image in a plain mode is copied as it is;
    any other value goes through ``images.py`` (losslessly: no size limit), which knows
    every kind nb_banana takes and refuses the unusable ones by name."""
    if isinstance(value, Image.Image) and value.mode in _PLAIN_MODES:
        return value.copy()
    encoded = images.encode_image(value, name, max_bytes=sys.maxsize)
    image = Image.open(io.BytesIO(encoded.data))
    image.load()
    return image


def _preview(picture: Image.Image, max_px: int) -> tuple[bytes, str]:
    """The screen-sized copy the page draws over: JPEG, or PNG to keep transparency."""
    small = picture.copy()
    small.thumbnail((max_px, max_px), Image.Resampling.LANCZOS, reducing_gap=3.0)
    fmt = "PNG" if "A" in small.mode else "JPEG"
    buffer = io.BytesIO()
    small.save(buffer, fmt, quality=85)
    return buffer.getvalue(), f"image/{fmt.lower()}"
