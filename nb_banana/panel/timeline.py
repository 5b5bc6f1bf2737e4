"""The current chat turn by turn, and what this panel's calls have used and cost so far."""

from __future__ import annotations

import base64
import html
from typing import TYPE_CHECKING

import ipywidgets as widgets

from ..usage import format_usd
from .style import styled
from .thumbs import thumbnail

if TYPE_CHECKING:
    from ..chat import Chat, Turn
    from ..result import Result

_TIMELINE_PX = 96


class Timeline:
    """One HTML widget for the chat (thumbnails as data URLs) and one for the running totals."""

    def __init__(self) -> None:
        self.calls = 0
        self.tokens = 0
        self.cost = 0.0
        self._thumbs: dict[int, tuple[Turn, str]] = {}
        self.widget = styled(widgets.HTML(), "nbb-timeline")
        self.totals = styled(widgets.HTML(), "nbb-muted")
        self.show(None)
        self._show_totals()

    def count(self, result: Result) -> None:
        """Add a successful call's tokens and estimated cost to the running figure."""
        self.calls += 1
        self.tokens += result.usage.total_tokens
        self.cost += result.cost
        self._show_totals()

    def show(self, chat: Chat | None) -> None:
        if chat is None or not chat.turns:
            self.widget.value = (
                '<div class="nbb-muted">No chat yet: Generate starts one, Continue adds to it.'
                "</div>"
            )
            return
        items = "".join(self._item(number, turn) for number, turn in enumerate(chat.turns, 1))
        self.widget.value = (
            f"<div><b>{html.escape(chat.name)}</b> "
            f'<span class="nbb-muted">with {html.escape(chat.model_id)}, '
            f"{len(chat.turns)} turn{'s' if len(chat.turns) > 1 else ''}</span></div>"
            f"<ol>{items}</ol>"
        )

    def _item(self, number: int, turn: Turn) -> str:
        thumb = self._thumb(turn)
        picture = f'<img src="{thumb}" alt="turn {number}"/>' if thumb else ""
        prompt = turn.prompt if len(turn.prompt) <= 300 else turn.prompt[:299] + "…"
        return f"<li>{picture}<span>{number}. {html.escape(prompt)}</span></li>"

    def _thumb(self, turn: Turn) -> str:
        """A data URL of the turn's image, made once per turn (turns never change)."""
        cached = self._thumbs.get(id(turn))
        if cached is not None and cached[0] is turn:
            return cached[1]
        data = model_image(turn)
        url = (
            f"data:image/png;base64,{base64.b64encode(thumbnail(data, _TIMELINE_PX)).decode()}"
            if data
            else ""
        )
        self._thumbs[id(turn)] = (turn, url)
        return url

    def _show_totals(self) -> None:
        self.totals.value = (
            f"This panel so far: {self.calls} call{'' if self.calls == 1 else 's'} · "
            f"{self.tokens:,} tokens · ~{format_usd(self.cost)}"
        )


def model_image(turn: Turn) -> bytes | None:
    """The last image the model sent in a turn (thought images are drafts, not the answer)."""
    found = None
    for part in turn.model.parts or ():
        blob = part.inline_data
        if blob is not None and blob.data and not part.thought:
            found = blob.data
    return found
