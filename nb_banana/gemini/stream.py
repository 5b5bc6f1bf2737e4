"""A streamed reply (``generateContentStream``): its chunks put together, and the live view.

With ``thinkingConfig.includeThoughts`` an image model streams what it is doing before it
draws: thought summaries (text parts with ``thought: true``), up to two draft pictures
(inline data with ``thought: true``), then the answer's parts with their signatures and
``finishReason``; ``usageMetadata`` rides on every chunk (../shared/REAL_REPLIES.md,
"Streaming"). ``Assembly`` takes the chunks as they come and gives, at any moment, a
``Glimpse`` for the cell's live display, and at the end the same ``Reply`` a plain call's
``wire.parse_reply`` makes, with the drafts beside it.

What goes back in a chat's history is the turn the model gave, assembled: its parts in the
order received, a text part's pieces joined while nothing (a signature, another kind of
part) comes between them, signed parts kept whole and apart (an empty text part that
carries only a signature too), and the draft pictures left out: they are the model's
sketches, not its answer, and never go back (nor into ``.images``, the store's pictures or
a saved file). Each draft keeps its bytes as received, for ``Result.drafts``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace

from google.genai import types

from . import wire


@dataclass(frozen=True)
class Glimpse:
    """The stream so far, for a live display: the thought text, the latest draft, and when
    the chunk that made this glimpse arrived (``time.perf_counter``)."""

    thoughts: str
    draft: wire.OutImage | None
    drafts: int
    arrived: float
    chunks: int


class Watch:
    """Where the engine's loop thread leaves each new glimpse and the waiting thread picks
    up the latest: ``changed`` wakes the waiter at once, so a thought is shown as soon as
    it arrives rather than at the next tick of the status line."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._glimpse: Glimpse | None = None
        self.changed = threading.Event()

    def post(self, glimpse: Glimpse) -> None:
        with self._lock:
            self._glimpse = glimpse
        self.changed.set()

    def latest(self) -> Glimpse | None:
        """The newest glimpse (``None`` before the first chunk); clears ``changed``."""
        with self._lock:
            self.changed.clear()
            return self._glimpse


@dataclass
class Assembly:
    """The chunks of one streamed call, put together as they arrive."""

    parts: list[types.Part] = field(default_factory=list)
    drafts: list[wire.OutImage] = field(default_factory=list)
    last: types.GenerateContentResponse | None = None
    grounding: types.GroundingMetadata | None = None
    feedback: types.GenerateContentResponsePromptFeedback | None = None
    finish: types.FinishReason | None = None
    chunks: int = 0

    def add(self, chunk: types.GenerateContentResponse) -> Glimpse:
        """Take one chunk; what the live display should show now."""
        arrived = time.perf_counter()
        self.chunks += 1
        self.last = chunk
        self.feedback = chunk.prompt_feedback or self.feedback
        candidate = chunk.candidates[0] if chunk.candidates else None
        if candidate is not None:
            self.finish = candidate.finish_reason or self.finish
            self.grounding = candidate.grounding_metadata or self.grounding
            for part in (candidate.content.parts if candidate.content else None) or ():
                self._take(part)
        return Glimpse(self.thoughts, self.drafts[-1] if self.drafts else None,
                       len(self.drafts), arrived, self.chunks)  # fmt: skip

    def _take(self, part: types.Part) -> None:
        blob = part.inline_data
        if part.thought and blob is not None and blob.data:
            self.drafts.append(wire.checked_image(blob.data, blob.mime_type or ""))
            return
        previous = self.parts[-1] if self.parts else None
        if previous is not None and _joins(previous, part):
            self.parts[-1] = previous.model_copy(update={"text": previous.text + part.text})
            return
        if part.text == "" and not part.thought_signature:
            return  # an empty piece of text that carries nothing
        self.parts.append(part)

    @property
    def thoughts(self) -> str:
        return "".join(p.text for p in self.parts if p.thought and p.text).strip()

    def reply(self) -> wire.Reply:
        """The reply the stream made: checked as a plain call's reply is (blocks, refusals,
        no picture), with the usage of the last chunk and the drafts beside it."""
        content = types.Content(role="model", parts=list(self.parts))
        candidates = None
        if self.finish is not None or self.parts:
            candidates = [types.Candidate(content=content, finish_reason=self.finish,
                                          grounding_metadata=self.grounding)]  # fmt: skip
        whole = types.GenerateContentResponse(
            candidates=candidates,
            prompt_feedback=self.feedback,
            usage_metadata=self.last.usage_metadata if self.last is not None else None,
        )
        return replace(wire.parse_reply(whole), drafts=tuple(self.drafts))


def _joins(previous: types.Part, part: types.Part) -> bool:
    """A piece of text that continues the text part before it: same kind (thought or
    answer), and no signature on the new piece (a signature starts a part of its own)."""
    return (
        previous.text is not None
        and part.text is not None
        and previous.inline_data is None
        and bool(previous.thought) == bool(part.thought)
        and not part.thought_signature
        and part.text != ""
    )
