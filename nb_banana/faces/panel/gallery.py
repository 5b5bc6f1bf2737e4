"""The panel's results, newest first: each image's preview, with Save, copy and reuse buttons.

Only the screen-sized preview goes to the browser; the original stays in the kernel and is
used when a button asks for it (save, copy to a variable, use as a reference).
"""

from __future__ import annotations

import dataclasses
import html
import keyword
from collections.abc import Callable, MutableMapping
from pathlib import Path

import ipywidgets as widgets

from ...answer.display import caption, grounding_html
from ...answer.previews import Preview, make_previews
from ...answer.result import Result, saved_line
from ...context import settings
from ...errors import OptionError
from .references import Guard, Run, Say, Use, reference
from .style import styled

# Older groups leave the page (the chat's timeline and the store still have them), so a long
# session does not keep every picture in the browser.
MAX_GROUPS = 6
_EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}


class Gallery:
    """Result groups, newest first.

    ``use`` receives a result image picked as a reference; ``follow`` is told which image
    "Continue from" chose (result, index of the image, its label).
    """

    def __init__(
        self,
        namespace: MutableMapping[str, object],
        use: Use,
        follow: Callable[[Result, int, str], None],
        run: Run,
        say: Say,
        guard: Guard,
    ) -> None:
        self._ns = namespace
        self._use = use
        self._follow = follow
        self._run = run
        self._say = say
        self._guard = guard
        self._suggested: set[str] = set()
        self.results: list[Result] = []
        self.numbers: list[int] = []  # each result's number, as its caption says
        self.widget = styled(widgets.VBox(), "nbb-group")

    @property
    def pictures(self) -> list[widgets.Image]:
        """The result images on show, newest result first."""
        return [card.children[0] for group in self.widget.children for card in _cards(group)]

    def add(self, result: Result, number: int) -> None:
        group = self._group(result, number)
        kept = self.widget.children[: MAX_GROUPS - 1]
        for old in self.widget.children[MAX_GROUPS - 1 :]:
            close_tree(old)
        self.widget.children = (group, *kept)
        self.results = [result, *self.results[: MAX_GROUPS - 1]]
        self.numbers = [number, *self.numbers[: MAX_GROUPS - 1]]

    def _group(self, result: Result, number: int) -> widgets.Widget:
        many = len(result.outputs) > 1
        shown = previews(result)
        cards = [
            self._card(
                result, i, shown[i], f"result{number}_{i + 1}" if many else f"result{number}"
            )
            for i in range(len(result.outputs))
        ]
        lines = [f"<b>Result {number}</b> · {html.escape(caption(result))}"]
        lines += [f"ℹ {html.escape(note)}" for note in result.all_notes]
        parts: list[widgets.Widget] = [
            styled(widgets.HTML("<br>".join(lines)), "nbb-muted"),
            styled(widgets.HBox(cards), "nbb-strip"),
        ]
        grounding = grounding_html(result)
        if grounding:
            parts.append(widgets.HTML("".join(grounding)))
        if result.text:
            parts.append(widgets.HTML(f'<div class="nbb-text">{html.escape(result.text)}</div>'))
        if result.thoughts:
            parts.append(styled(widgets.HTML(
                f'<details><summary>Thoughts</summary><div class="nbb-text">'
                f"{html.escape(result.thoughts)}</div></details>"
            ), "nbb-muted"))  # fmt: skip
        return styled(widgets.VBox(parts), "nbb-section")

    def _card(self, result: Result, index: int, shown: Preview, label: str) -> widgets.Widget:
        out = result.outputs[index]
        picture = styled(
            widgets.Image(value=shown.data, format=shown.mime_type.split("/")[-1]), "nbb-picture"
        )
        path = widgets.Text(value=self._free_path(out.mime_type), layout=_grow())
        name = widgets.Text(value=self._free_name(), layout=_grow())
        save = _button("Save", "save", "Write this image to the file named on the left")
        copy = _button("To variable", "code", "Bind this image (a PIL image) to the name")
        use = _button("As reference", "plus", "Send this image with the next prompt")
        follow = _button("Continue from", "reply", "Make the next Continue build on this one")
        mark = _button("Mark up", "pencil", "Draw on this image; it goes with the next prompt")
        save.on_click(self._guard(lambda _: self._save(result, index, path)))
        copy.on_click(self._guard(lambda _: self._bind(result, index, name)))
        use.on_click(self._guard(lambda _: self._run(self._reuse, label, result, index)))
        follow.on_click(self._guard(lambda _: self._run(self._follow, result, index, label)))
        mark.on_click(self._guard(lambda _: self._run(self._mark_up, label, result, index)))
        rows = [_row(path, save), _row(name, copy), _row(use, follow), _row(mark)]
        info = styled(widgets.HTML(f"{label} · {out.width}×{out.height}"), "nbb-muted")
        return styled(widgets.VBox([picture, info, *rows]), "nbb-card")

    def _save(self, result: Result, index: int, path: widgets.Text) -> None:
        """``Result.save`` for this one image: an existing file is never replaced."""
        target = path.value.strip()
        if not target:
            raise OptionError("Write a file name to save to, e.g. banana.png.")
        self._say(f"{saved_line(only(result, index).save(target))}.", "ok")
        path.value = self._free_path(result.outputs[index].mime_type)

    def _bind(self, result: Result, index: int, name: widgets.Text) -> None:
        var = name.value.strip()
        if not var.isidentifier() or keyword.iskeyword(var):
            raise OptionError(
                f"'{var}' is not a Python variable name: use letters, digits and _, "
                "not starting with a digit."
            )
        image = result.images[index]
        self._ns[var] = image
        self._say(f"{var} = PIL image {image.width}×{image.height} ({image.mode}).", "ok")
        name.value = self._free_name()

    def _reuse(self, label: str, result: Result, index: int) -> None:
        self._use(reference(label, result.outputs[index].data))
        self._say(f"{label} is a reference now: it goes with every prompt until removed.", "idle")

    def _mark_up(self, label: str, result: Result, index: int) -> None:
        self._use(reference(label, result.outputs[index].data), mark_up=True)

    def _free_path(self, mime_type: str) -> str:
        ext = _EXTENSIONS.get(mime_type, ".png")
        number = 1
        while self._taken(candidate := f"banana-{number}{ext}") or Path(candidate).exists():
            number += 1
        self._suggested.add(candidate)
        return candidate

    def _free_name(self) -> str:
        number = 1
        while self._taken(candidate := f"banana_image{number}") or candidate in self._ns:
            number += 1
        self._suggested.add(candidate)
        return candidate

    def _taken(self, candidate: str) -> bool:
        """Offered on another card already: two cards must not suggest the same name."""
        return candidate in self._suggested


def previews(result: Result) -> list[Preview]:
    """What the browser is sent for each image: the result's previews, made now if it has
    none, never the full-size originals (up to 16 images at 4K per result)."""
    if len(result.previews) == len(result.outputs):
        return list(result.previews)

    outs = [(out.data, out.mime_type) for out in result.outputs]
    return make_previews(outs, settings().preview_px) if outs else []


def only(result: Result, index: int) -> Result:
    """The result narrowed to its ``index``-th image, so ``Result.save`` writes just that one."""
    if len(result.outputs) == 1:
        return result
    sample, within = locate(result, index)
    reply = result.replies[sample]
    one = dataclasses.replace(reply, images=(reply.images[within],))
    return dataclasses.replace(result, replies=(one,))


def locate(result: Result, index: int) -> tuple[int, int]:
    """Image ``index`` of ``result.outputs`` -> (its sample, its place in that sample)."""
    seen = 0
    for sample, reply in enumerate(result.replies):
        if index < seen + len(reply.images):
            return sample, index - seen
        seen += len(reply.images)
    raise IndexError(index)


def close_tree(widget: widgets.Widget) -> None:
    """Close a widget and everything inside it, so the kernel forgets their comms."""
    for child in getattr(widget, "children", ()):
        close_tree(child)
    widget.close()


def _cards(group: widgets.Widget) -> tuple[widgets.Widget, ...]:
    return group.children[1].children


def _grow() -> widgets.Layout:
    return widgets.Layout(flex="1 1 0", width="auto", min_width="0")


def _button(description: str, icon: str, tooltip: str) -> widgets.Button:
    return widgets.Button(
        description=description, icon=icon, tooltip=tooltip,
        layout=widgets.Layout(flex="0 0 auto", width="auto"),
    )  # fmt: skip


def _row(*items: widgets.Widget) -> widgets.Widget:
    return styled(widgets.HBox(list(items)), "nbb-row")
