"""The live view of a streamed call: what the cell (and the panel) shows while it runs.

The engine's loop thread posts each chunk's ``Glimpse`` to a ``Watch``; the waiting thread
asks ``LiveView.bundle`` for the display whenever one arrives (or the clock ticks). The
latest draft is shrunk once, when it arrives, so the many updates of the elapsed time
resend a small picture, not the model's full-size one.
"""

from __future__ import annotations

from ..answer.display import LIVE_DRAFT_PX, live_bundle
from ..answer.previews import Preview, make_preview
from ..gemini.stream import Glimpse, Watch


class LiveView:
    """The thoughts so far, the latest draft, the time: one bundle per tick or chunk."""

    def __init__(self, model: str, watch: Watch) -> None:
        self.model = model
        self.watch = watch
        self._glimpse: Glimpse | None = None
        self._draft: Preview | None = None

    def bundle(self, seconds: float) -> dict[str, str] | None:
        """The live display now; ``None`` before the first chunk (the status line stays)."""
        glimpse = self.watch.latest() or self._glimpse
        if glimpse is None:
            return None
        if glimpse.draft is not None and (self._glimpse is None
                                          or glimpse.drafts != self._glimpse.drafts):  # fmt: skip
            draft = glimpse.draft
            self._draft = make_preview(draft.data, draft.mime_type, LIVE_DRAFT_PX)
        self._glimpse = glimpse
        return live_bundle(self.model, seconds, glimpse.thoughts, self._draft, glimpse.drafts)
