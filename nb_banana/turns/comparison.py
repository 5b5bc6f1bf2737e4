"""A comparison: one prompt sent to several models at once, answered as one row per model.

``%%banana -m lite,flash,pro``, ``nb_banana.compare`` and the panel's "Compare models" make
one ``turns.Ask`` per model from the same ask. Each row is planned, answered from the store
or called and committed like any turn (its request is its own cache key), but every row's
call goes out before any is awaited (``turns.send_all``), so a comparison takes as long as
its slowest model. An option a model lacks gives way on that row, with a note
(``Ask.yielding``); one that no model of the list takes is refused.

Chats: wherever a single call starts a chat (a plain ``%%banana`` cell, the panel's
Generate), each row starts its own, on its model, named after it (``chat3-lite``,
``chat3-pro``), so any row can be carried on (``-c chat3-pro``, the panel's "Continue
from"); ``nb_banana.compare``, like ``generate``, starts none. ``-c`` with a list is refused:
a chat has one model. Re-runs are recognised per row: a row is recorded as cell
``CELL/lite``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from typing import Any

from ..answer.comparison import Comparison, Row
from ..answer.result import Result
from ..context import engine
from ..errors import BananaError, OptionError
from ..gemini.models import ModelSpec, UnknownModel, live_model
from ..gemini.request import refuse_untaken
from . import runner as turns


def model_list(option: str | None) -> list[str] | None:
    """The models a ``-m`` value lists (``lite,flash,pro``), or ``None`` for a single model."""
    if option is None or "," not in option:
        return None
    return option.split(",")


def asks(ask: turns.Ask, models: Sequence[str]) -> list[turns.Ask]:
    """The ask once per model, in the order given: the cell's options, which give way on a
    row whose model lacks them; an option no model takes is refused here, in one line."""
    if ask.chat is not None:
        raise OptionError(
            "A chat has one model, so -c does not go with a list of models: leave out -c to "
            "compare, or carry on one row's chat by its name (-c chat3-pro)."
        )
    specs = _specs(models)
    given = {"aspect": ask.aspect, "size": ask.size, "thinking": ask.thinking,
             "thoughts": ask.thoughts, "search": ask.search}  # fmt: skip
    refuse_untaken(specs, given)
    yielding = frozenset(option for option, value in given.items() if value)
    return [
        _row_ask(ask, name.strip(), _short(spec), yielding)
        for name, spec in zip(models, specs, strict=True)
    ]


def _row_ask(ask: turns.Ask, model: str, row: str, yielding: frozenset[str]) -> turns.Ask:
    """One model's ask; keyed by cell, each row is its own cell (``CELL/lite``)."""
    cell = f"{ask.cell}/{row}" if ask.cell else None
    return dataclasses.replace(ask, model=model, row=row, yielding=yielding, cell=cell)


def _specs(names: Sequence[str]) -> list[ModelSpec]:
    """The live model of each name; refused: fewer than two, an empty or unknown name, or
    one model named twice (``flash,flash2``)."""
    listed = ",".join(names)
    if len(names) < 2:
        given = f" (not {listed})" if listed else ""
        raise OptionError(f"A comparison needs two models or more, e.g. lite,pro{given}.")
    named: dict[str, str] = {}  # model id -> the name it was given by
    found: list[ModelSpec] = []
    for name in names:
        if not name.strip():
            raise OptionError(f"-m {listed} has an empty name: e.g. -m lite,flash,pro.")
        try:
            spec = live_model(name)[0]
        except UnknownModel as exc:
            raise OptionError(str(exc)) from None
        if spec.id in named:
            raise OptionError(
                f"-m {listed} names {spec.id} twice ({named[spec.id]} and {name.strip()}): "
                "list each model once."
            )
        named[spec.id] = name.strip()
        found.append(spec)
    return found


def _short(spec: ModelSpec) -> str:
    """The model's short name for its row's chat: its first alias, else its id."""
    return spec.aliases[0] if spec.aliases else re.sub(r"[^a-z0-9-]+", "-", spec.id.lower())


def plan(row_asks: Sequence[turns.Ask]) -> list[turns.Plan]:
    """Every row planned, or none: a refused row frees the chat names the others reserved."""
    plans: list[turns.Plan] = []
    try:
        for ask in row_asks:
            plans.append(turns.plan(ask))
    except BaseException:
        release(plans)
        raise
    return plans


def from_store(plans: Sequence[turns.Plan]) -> list[Result | None]:
    """Each row's stored answer, if the store has it (recorded as its turn)."""
    return [turns.from_store(planned) for planned in plans]


def to_send(plans: Sequence[turns.Plan], stored: Sequence[Result | None]) -> list[turns.Plan]:
    """The rows the store did not answer: what ``turns.send_all`` sends."""
    return [planned for planned, result in zip(plans, stored, strict=True) if result is None]


def release(plans: Sequence[turns.Plan]) -> None:
    """Rows that came to nothing: free their new chats' names (a committed row keeps its)."""
    for planned in plans:
        turns.release(planned)


def commit(
    plans: Sequence[turns.Plan], stored: Sequence[Result | None], outcomes: Sequence[Any]
) -> Comparison:
    """The comparison: stored rows as they are, called rows committed in the order asked
    (``outcomes``: one per row sent). A row whose every sample failed shows its one line;
    if no row answered, the first failure is raised."""
    called = iter(outcomes)
    rows = []
    for planned, result in zip(plans, stored, strict=True):
        if result is None:
            try:
                result = turns.commit(planned, next(called))
            except BananaError as exc:
                turns.release(planned)
                rows.append(Row(planned.request.model, error=exc))
                continue
        rows.append(Row(planned.request.model, result))
    comparison = Comparison(rows)
    if not comparison:
        raise next(iter(comparison.failed.values()))
    return comparison


def run(
    row_asks: Sequence[turns.Ask], on_tick: Callable[[float], None] | None = None
) -> Comparison:
    """The whole comparison, waiting: every call in flight at once; an interrupt cancels
    them all and commits none of them."""

    plans = plan(row_asks)
    try:
        stored = from_store(plans)
        sent = to_send(plans, stored)
        outcomes = engine().wait(turns.send_all(sent), on_tick) if sent else []
    except BaseException:
        release(plans)
        raise
    return commit(plans, stored, outcomes)


def dry_run(row_asks: Sequence[turns.Ask]) -> list[turns.DryRun]:
    """Each row's request as it would go out, with its estimate; nothing is sent."""
    return [turns.dry_run(ask) for ask in row_asks]
