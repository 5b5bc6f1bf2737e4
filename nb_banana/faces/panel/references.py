"""The images sent after the prompt: picked from notebook variables, uploaded, or from results.

Each reference is checked and encoded the way a request would encode it (``images.py``) when
it is added, so a bad file says so at once and the thumbnail shows what will be sent.
"""

from __future__ import annotations

import dataclasses
import html
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import ipywidgets as widgets

from ...answer.previews import thumbnail
from ...errors import BananaError
from ...gemini import images
from ...gemini.models import ModelSpec
from ..markup import Markup
from .style import styled

THUMB_PX = 96
ACCEPT = ".png,.jpg,.jpeg,.webp,image/png,image/jpeg,image/webp"
# Background work, a one-line message, and a wrapper that turns failures into that message.
Run = Callable[..., None]
Say = Callable[[str, str], None]
Guard = Callable[[Callable[..., None]], Callable[..., None]]


@dataclass(frozen=True, eq=False)
class Reference:
    """One chosen image value and the name it is sent (and shown in captions) as.

    ``once`` marks a result picked with "Continue from": it goes with the next call
    only, since after that the chat's history holds it.
    """

    name: str
    value: object
    thumb: bytes
    images: int = 1
    once: bool = False


class Use(Protocol):
    """Where a picked image goes: ``ReferenceTray.add`` (``mark_up`` opens it for drawing)."""

    def __call__(self, ref: Reference, *, mark_up: bool = False) -> None: ...


def reference(name: str, value: object, *, once: bool = False) -> Reference:
    """Encode ``value`` as a request would (same checks, same errors) and keep a thumbnail."""
    encoded = images.encode_images([(name, value)])[0]
    thumb = thumbnail(encoded[0].data, THUMB_PX)
    return Reference(name, value, thumb, len(encoded), once)


def notebook_images(namespace: Mapping[str, object]) -> list[tuple[str, object]]:
    """The notebook's variables that hold images; ``_``-names are IPython's, not the user's."""
    return [
        (name, value)
        for name, value in list(namespace.items())
        if not name.startswith("_") and images.is_image_like(value)
    ]


class ReferenceTray:
    """Chosen references (each with × and Mark up), an upload button, a strip of notebook
    images, and the markup widget of the reference being marked up."""

    def __init__(self, namespace: Mapping[str, object], run: Run, say: Say, guard: Guard):
        self._ns = namespace
        self._run = run
        self._say = say
        self._guard = guard
        self._lock = threading.Lock()
        self._chosen: list[Reference] = []
        self._chips: dict[Reference, widgets.Widget] = {}
        self._marking: Reference | None = None
        self._limit = (3, "")
        self.count = styled(widgets.HTML(), "nbb-muted")
        self.upload = widgets.FileUpload(
            accept=ACCEPT, multiple=True, description="Upload", icon="upload",
            tooltip="Add PNG, JPEG or WebP files as references",
            layout=widgets.Layout(width="auto"),
        )  # fmt: skip
        self.upload.add_class("nbb-upload")
        self.scan_button = widgets.Button(
            description="Notebook images", icon="refresh",
            tooltip="Show the images held by this notebook's variables",
            layout=widgets.Layout(width="auto"),
        )  # fmt: skip
        self.chosen_box = styled(widgets.HBox(), "nbb-strip")
        self.found_box = styled(widgets.HBox(), "nbb-strip")
        self.found_label = styled(widgets.HTML(), "nbb-muted")
        self.editor = styled(widgets.VBox(), "nbb-section")
        self.editor.layout.display = "none"
        self.upload.observe(guard(self._on_upload), names="value")
        self.scan_button.on_click(guard(lambda _: run(self._scan)))
        header = widgets.HBox(
            [widgets.HTML("<b>References</b>"), self.count, self.upload, self.scan_button]
        )
        parts = [styled(header, "nbb-row"), self.chosen_box, self.editor, self.found_label,
                 self.found_box]  # fmt: skip
        self.widget = styled(widgets.VBox(parts), "nbb-section")
        self._render()

    @property
    def chosen(self) -> list[Reference]:
        with self._lock:
            return list(self._chosen)

    def add(self, ref: Reference, *, mark_up: bool = False) -> None:
        """Append ``ref``; one from "Continue from" goes first and replaces an earlier one.
        ``mark_up`` opens it for drawing at once (the gallery's Mark up)."""
        with self._lock:
            kept = [r for r in self._chosen if r.name != ref.name and not (ref.once and r.once)]
            self._chosen = [ref, *kept] if ref.once else [*kept, ref]
        self._render()
        if mark_up:
            self.mark_up(ref)

    def mark_up(self, ref: Reference) -> None:
        """Show the markup widget for ``ref``; from now on the marked picture is the one sent.
        The widget keeps the original, so Clear (or Undo) brings it back."""
        marked = ref.value
        if not isinstance(marked, Markup):
            marked = Markup(ref.value, name=ref.name, owner=f"panel {ref.name}")
        drawn = dataclasses.replace(ref, value=marked)
        self._swap(ref, drawn)
        done = widgets.Button(description="Done", icon="check", tooltip="Close the drawing")
        done.on_click(self._guard(lambda _: self._run(self._done_marking, drawn)))
        title = widgets.HTML(f"<b>Marking up {html.escape(ref.name)}</b>")
        hint = styled(widgets.HTML("the marks go with the picture; Done updates its thumbnail"),
                      "nbb-muted")  # fmt: skip
        self._marking = drawn
        self.editor.children = [styled(widgets.HBox([title, hint, done]), "nbb-row"), marked]
        self.editor.layout.display = ""
        self._say(f"Draw on {ref.name}: it goes with the marks from now on.", "idle")

    def remove(self, ref: Reference) -> None:
        with self._lock:
            self._chosen = [r for r in self._chosen if r is not ref]
        if ref is self._marking:
            self._close_editor()
        self._render()

    def drop_sent_once(self, sent: Sequence[Reference]) -> None:
        """After a successful call: one-time references have done their job."""
        with self._lock:
            self._chosen = [r for r in self._chosen if not (r.once and r in sent)]
        self._render()

    def set_model(self, spec: ModelSpec) -> None:
        self._limit = (spec.max_input_images, spec.name)
        self._render()

    def _done_marking(self, drawn: Reference) -> None:
        """Close the drawing and show the marks in the reference's thumbnail."""
        self._close_editor()
        self._swap(drawn, reference(drawn.name, drawn.value, once=drawn.once))

    def _close_editor(self) -> None:
        self._marking = None
        self.editor.children = ()
        self.editor.layout.display = "none"

    def _swap(self, old: Reference, new: Reference) -> None:
        """Put ``new`` where ``old`` was, if ``old`` is still chosen."""
        with self._lock:
            self._chosen = [new if r is old else r for r in self._chosen]
        self._render()

    def _render(self) -> None:
        with self._lock:
            chosen = list(self._chosen)
            self._chips = {r: self._chips.get(r) or self._chip(r) for r in chosen}
            self.chosen_box.children = [self._chips[r] for r in chosen]
        self._show_count(sum(r.images for r in chosen))

    def _show_count(self, n: int) -> None:
        limit, model = self._limit
        if not n:
            self.count.value = "none yet: upload, pick a notebook image, or use a result"
        elif n > limit:
            self.count.value = (
                f'<span class="nbb-over">{n} images: {model} takes at most {limit}; '
                "remove some or choose a model that takes 14</span>"
            )
        else:
            self.count.value = f"{n} of {limit} images"

    def _chip(self, ref: Reference) -> widgets.Widget:
        remove = widgets.Button(
            description="×", tooltip=f"Remove {ref.name}", layout=widgets.Layout(width="24px")
        )
        remove.on_click(self._guard(lambda _: self.remove(ref)))
        label = ref.name + (f" ({ref.images})" if ref.images > 1 else "")
        caption = widgets.HTML(
            f'<span title="{html.escape(label)}">{html.escape(_short(label))}</span>'
        )
        title = widgets.HBox([caption, remove], layout=widgets.Layout(align_items="center"))
        thumb = styled(widgets.Image(value=ref.thumb, format="jpeg"), "nbb-thumb")
        mark = widgets.Button(
            description="Mark up", icon="pencil", tooltip=f"Draw on {ref.name} to show what to fix",
            disabled=ref.images > 1, layout=widgets.Layout(width="auto"),
        )  # fmt: skip
        mark.on_click(self._guard(lambda _: self._run(self.mark_up, ref)))
        return styled(widgets.VBox([thumb, title, mark]), "nbb-chip")

    def _on_upload(self, change: dict[str, Any]) -> None:
        files = list(change["new"])
        if not files:
            return
        self.upload.value = ()
        self._run(self._add_files, [(f["name"], bytes(f["content"])) for f in files])

    def _add_files(self, files: list[tuple[str, bytes]]) -> None:
        for name, data in files:
            self.add(reference(name, data))
        self._say(f"Added {', '.join(name for name, _ in files)} as references.", "idle")

    def _scan(self) -> None:
        """Thumbnail every image variable; a value that cannot be encoded is named, not fatal."""
        found, unusable = [], []
        for name, value in notebook_images(self._ns):
            try:
                found.append(reference(name, value))
            except (BananaError, OSError, ValueError):
                unusable.append(name)
        self.found_box.children = [self._pick_chip(ref) for ref in found]
        note = f" ({', '.join(unusable)} could not be read)" if unusable else ""
        self.found_label.value = (
            f"In the notebook: click one to add it{note}"
            if found
            else f"No images in the notebook's variables yet{note}."
        )

    def _pick_chip(self, ref: Reference) -> widgets.Widget:
        add = widgets.Button(
            description=_short(ref.name), icon="plus", tooltip=f"Send {ref.name} with the prompt",
            layout=widgets.Layout(width="96px"),
        )  # fmt: skip
        add.on_click(self._guard(lambda _: self.add(ref)))
        thumb = styled(widgets.Image(value=ref.thumb, format="jpeg"), "nbb-thumb")
        return styled(widgets.VBox([thumb, add]), "nbb-chip")


def _short(text: str, limit: int = 12) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
