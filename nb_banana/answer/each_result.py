"""What a ``--each`` run gives back: each element's answer, kept light, in element order.

An ``EachResult`` holds, per finished element, its thumbnails and the keys the store holds
it under (``Done``), and per failed element its one-line reason (``Failure``): a run of
hundreds of pictures keeps kilobytes in the kernel, and ``result[K]`` or ``images`` read
the pictures back from the store when asked. Its display is a contact sheet
(``display.contact_sheet_bundle``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, overload

from ..errors import BananaError
from ..gemini.usage import format_usd
from . import drawing
from .previews import thumbnail
from .result import Result, saved_line

THUMB_PX = 160  # the contact sheet's pictures: small enough for a hundred in a notebook

if TYPE_CHECKING:
    from PIL import Image


class Element(Protocol):
    """What a run's element is to its answer: its place in the list and its label
    (``turns.each.Element`` is one; it also carries the ask, which only the turns read)."""

    @property
    def index(self) -> int: ...

    @property
    def label(self) -> str: ...


@dataclass(frozen=True)
class Failure:
    """An element that has no picture, and why (one line)."""

    index: int
    label: str
    reason: str

    def __str__(self) -> str:
        return f"#{self.index} {self.label}: {self.reason}"


@dataclass(frozen=True)
class Done:
    """One element's answer as the run keeps it: thumbnails and where the full result is.

    ``kept`` holds the whole result only when the store could not take it.
    """

    index: int
    keys: tuple[str, ...]
    endpoint: str
    thumbs: tuple[bytes, ...]  # JPEG, ``THUMB_PX`` on the longest side
    images: int
    cost: float
    elapsed: float
    cached: bool
    simulated: bool
    kept: Result | None = None
    # What a single cell would have said under its picture: a shut-down model's
    # replacement, a dropped default, a downscaled reference, a failed sample.
    notes: tuple[str, ...] = ()

    @classmethod
    def of(cls, index: int, keys: tuple[str, ...], endpoint: str, result: Result) -> Done:
        """What a run keeps of a result: thumbnails (those its previews were made with,
        else from the screen-sized previews, which decode faster) and where the rest is in
        the store; the whole result only if the store could not take it."""
        if result.previews:
            thumbs = tuple(p.thumb or thumbnail(p.data, THUMB_PX) for p in result.previews)
        else:
            thumbs = tuple(thumbnail(out.data, THUMB_PX) for out in result.outputs)
        return cls(
            index, keys, endpoint, thumbs,
            len(result.outputs), result.cost, result.elapsed, result.cached, result.simulated,
            kept=result if result.generation_id is None and not result.cached else None,
            notes=result.all_notes,
        )  # fmt: skip


class EachResult(Sequence["Result | None"]):
    """A run's answers in element order: a ``Result`` per element, ``None`` for one that
    failed or was not asked (an interrupt, or an error that stopped the run).

    Only thumbnails are held; ``result[K]`` and ``images`` read the full pictures back from
    the store each time. ``failed`` says which elements failed and why; its repr is a
    contact sheet.
    """

    def __init__(
        self,
        items: Sequence[Element],
        done: Mapping[int, Done],
        failed: Mapping[int, Failure],
        elapsed: float,
        *,
        interrupted: bool = False,
        stopped: BananaError | None = None,
        saved: Sequence[Path] = (),
        kept: int = 0,
        load: Callable[[Element, Done], Result],
    ) -> None:
        self.elements = tuple(items)
        self._load = load  # the turn layer's: it owns the store and plans the request
        self.done = dict(done)
        self.failed = [failed[i] for i in sorted(failed)]
        self.elapsed = elapsed
        self.interrupted = interrupted
        self.stopped = stopped
        self.saved = tuple(saved)
        self.kept = kept

    def __len__(self) -> int:
        return len(self.elements)

    @overload
    def __getitem__(self, index: int) -> Result | None: ...

    @overload
    def __getitem__(self, index: slice) -> list[Result | None]: ...

    def __getitem__(self, index: int | slice) -> Result | list[Result | None] | None:
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        element = self.elements[index]
        done = self.done.get(element.index)
        return None if done is None else self._load(element, done)

    @property
    def labels(self) -> list[str]:
        return [element.label for element in self.elements]

    @property
    def remaining(self) -> list[Element]:
        """The elements not asked for (an interrupt, or a stop): a re-run asks for them."""
        failed = {failure.index for failure in self.failed}
        return [e for e in self.elements if e.index not in self.done and e.index not in failed]

    @property
    def images(self) -> list[Image.Image]:
        """Every picture in element order (failed elements have none), read from the store."""
        return [image for result in self if result is not None for image in result.images]

    @property
    def cost(self) -> float:
        """Estimated USD of the calls this run made (answers from the store cost nothing)."""
        return sum(done.cost for done in self.done.values())

    @property
    def cached(self) -> int:
        return sum(done.cached for done in self.done.values())

    def _banana_not_a_picture_(self, name: str) -> str:
        """Why ``{name}`` cannot stand for a whole run's results, and the two ways on."""
        return (
            f"{{{name}}} holds the {len(self)} results of an --each run, not one picture: "
            f"treat each with --each {name}, or bind one first (pick = {name}[0]), then "
            "write {pick}."
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> tuple[dict, dict]:
        return drawing.bundle(self)

    def __repr__(self) -> str:
        failed = f", {len(self.failed)} failed" if self.failed else ""
        return f"<nb_banana.EachResult {len(self.done)} of {len(self)} done{failed}>"


def summary(result: EachResult) -> str:
    """One line: how many were done, from the store, failed, not asked; time and cost."""

    parts = [f"{len(result.done)} of {len(result)} done"]
    if result.cached:
        parts.append(f"{result.cached} from the store")
    if result.failed:
        parts.append(f"{len(result.failed)} failed")
    if result.remaining:
        parts.append(f"{len(result.remaining)} not asked")
    simulated = any(done.simulated for done in result.done.values())
    parts += [f"{result.elapsed:.1f} s", f"~{format_usd(result.cost)}" + " (simulated)" * simulated]
    return " · ".join(parts)


def notes(result: EachResult) -> list[str]:
    """Why a run ended early, the elements' own notes (each distinct one once: a model
    replaced for every element is said once, not a hundred times), and what ``--save``
    did."""
    lines = []
    if result.interrupted:
        lines.append("Interrupted: what finished is kept; re-run the cell to ask for the rest "
                     "(the finished elements come from the store).")  # fmt: skip
    if result.stopped is not None:
        lines.append(f"Stopped: {result.stopped}")
    done = [result.done[index] for index in sorted(result.done)]
    lines += dict.fromkeys(note for one in done for note in one.notes)
    if result.saved:
        lines.append(saved_line(list(result.saved)))
    if result.kept:
        lines.append(f"{result.kept} element(s) already had their file in the folder and were "
                     "left as they were (--overwrite replaces them).")  # fmt: skip
    return lines
