"""Under the gallery: the current chat turn by turn, and what this kernel's calls have cost."""

from __future__ import annotations

from typing import TYPE_CHECKING

import ipywidgets as widgets

from ...context import session
from ...gemini.usage import format_usd
from ...gemini.wire import body_bytes
from ..timeline import timeline_html
from .style import styled

if TYPE_CHECKING:
    from ...memory.chat import Chat


class Timeline:
    """The chat as ``%banana chat`` draws it, and the session's running totals."""

    def __init__(self) -> None:
        self.widget = widgets.HTML()
        self.totals = styled(widgets.HTML(), "nbb-muted")

    def show(self, chat: Chat | None) -> None:
        """Redraw for ``chat``; the totals are the core's (it adds up every successful call)."""
        if chat is None or not chat.turns:
            self.widget.value = (
                '<div class="nbb-muted">No chat yet: Generate starts one, Continue adds to it.'
                "</div>"
            )
        else:
            self.widget.value = timeline_html(chat, body_bytes(chat.history()))
        s = session()
        cached = f" ({s.cached} answered from the cache)" if s.cached else ""
        self.totals.value = (
            f"This session: {s.calls} call{'' if s.calls == 1 else 's'}{cached} · "
            f"{s.tokens:,} tokens · ~{format_usd(s.cost)}"
        )
