"""A comparison's answer: a row per model, in the order asked, each a result or the error
that stopped it. ``turns/comparison.py`` runs the rows; this is what it hands back."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import BananaError
from ..gemini.models import ModelSpec, UnknownModel, live_model
from ..gemini.usage import format_usd
from . import drawing
from .result import Result


@dataclass(frozen=True)
class Row:
    """One model's row: its result, or the one line that says why it has none."""

    model: ModelSpec
    result: Result | None = None
    error: BananaError | None = None


class Comparison(Mapping[str, Result]):
    """The answer to a comparison: model id → ``Result`` for the rows that answered, in the
    order asked (an alias works as a key too: ``comparison["pro"]``). Its display shows
    every row, a failed one as its one line; ``.cost`` is the total."""

    def __init__(self, rows: Sequence[Row]) -> None:
        self.rows = tuple(rows)

    def __getitem__(self, model: str) -> Result:
        wanted = _model_id(model)
        for row in self.rows:
            if row.model.id == wanted and row.result is not None:
                return row.result
        raise KeyError(model)

    def __iter__(self) -> Iterator[str]:
        return (row.model.id for row in self.rows if row.result is not None)

    def __len__(self) -> int:
        return sum(row.result is not None for row in self.rows)

    @property
    def cost(self) -> float:
        """Estimated USD of every row together (nothing for rows answered from the store)."""
        return sum(result.cost for result in self.values())

    @property
    def failed(self) -> dict[str, BananaError]:
        """The rows that came to nothing: model id → why."""
        return {row.model.id: row.error for row in self.rows if row.error is not None}

    def _banana_not_a_picture_(self, name: str) -> str:
        """Why ``{name}`` cannot stand for a comparison (a prompt takes one picture), and how
        to pick one; its text would otherwise be sent as prompt."""
        alias = next(iter(self), "pro")
        return (
            f"{{{name}}} holds a comparison of {len(self.rows)} models, not one picture: bind "
            f"the row you want first (pick = {name}['{alias}']), then write {{pick}}."
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> tuple[dict, dict]:
        return drawing.bundle(self)

    def __repr__(self) -> str:
        rows = "; ".join(
            f"{row.model.id}: {len(row.result.outputs)} image(s), {row.result.elapsed:.1f} s"
            if row.result is not None
            else f"{row.model.id}: failed"
            for row in self.rows
        )
        return f"<nb_banana.Comparison {rows}; ~{format_usd(self.cost)} in all>"


def _model_id(name: str) -> str:
    try:
        return live_model(name)[0].id
    except UnknownModel:
        return name
