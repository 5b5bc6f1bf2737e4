"""A notebook's chats: named threads of turns, with undo, branches, and a life past restarts.

Each turn keeps the model's parts exactly as received (thought signatures included) as a
JSON document whose image bytes live in the store's blob files, so a long 2K thread costs
the kernel a few kilobytes per turn, and the history is rebuilt byte-for-byte only when it
is sent. A turn is added only after its call succeeded: a failure of any kind, a refusal
or an interrupt leaves the thread as it was.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ..errors import OptionError, StoreError
from ..gemini.models import live_model
from .store import MissingBlobError

if TYPE_CHECKING:
    from google.genai import types

    from ..gemini.wire import Blobs
    from .store import Store


@dataclass(frozen=True)
class Turn:
    """One exchange: the user's content and every sample the model returned for it."""

    prompt: str
    user: dict[str, Any]
    samples: tuple[dict[str, Any], ...]
    picked: int = 0
    key: str = ""  # the cache key of the request that made it: how a re-run cell is known
    # The shape it was asked in (aspect, size, thinking): what a follow-up keeps.
    options: dict[str, str] = field(default_factory=dict)

    @property
    def model(self) -> dict[str, Any]:
        """The sample that continues the chat (``--pick`` chooses another)."""
        return self.samples[self.picked]

    def to_json(self) -> dict[str, Any]:
        return {"prompt": self.prompt, "user": self.user, "samples": list(self.samples),
                "picked": self.picked, "key": self.key, "options": self.options}  # fmt: skip

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Turn:
        return cls(
            doc["prompt"], doc["user"], tuple(doc["samples"]), doc.get("picked", 0),
            doc.get("key", ""), doc.get("options", {}),
        )  # fmt: skip


class MemoryBlobs:
    """Blob storage for a kernel whose store folder could not be opened."""

    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}

    def put_blob(self, data: bytes, mime_type: str) -> str:
        name = hashlib.sha256(data).hexdigest()
        self._blobs[name] = data
        return name

    def blob(self, name: str) -> bytes:
        return self._blobs[name]

    def __contains__(self, name: str) -> bool:
        return name in self._blobs


class StoreBlobs:
    """The store's blob files, kept in memory instead while the store cannot be written, so
    a full disk or a locked folder costs the saved copy of a chat, not the chat."""

    def __init__(self, store: Store, failed: Callable[[StoreError], None]) -> None:
        self.store = store
        self._failed = failed
        self._memory = MemoryBlobs()

    def put_blob(self, data: bytes, mime_type: str) -> str:
        try:
            return self.store.put_blob(data, mime_type)
        except StoreError as exc:
            self._failed(exc)
            return self._memory.put_blob(data, mime_type)

    def blob(self, name: str) -> bytes:
        return self._memory.blob(name) if name in self._memory else self.store.blob(name)


@dataclass
class Chat:
    """One thread with one model (thought signatures are model-specific)."""

    name: str
    model_id: str
    blobs: Blobs = field(default_factory=MemoryBlobs, repr=False)
    turns: list[Turn] = field(default_factory=list)
    on_change: Callable[[Chat], None] | None = field(default=None, repr=False)
    # How far this kernel has gone through a thread an earlier kernel made, re-running its
    # cells (``None``: at the end, where a new turn goes).
    position: int | None = field(default=None, repr=False)

    @property
    def next_turn(self) -> int:
        """Where this kernel's next turn goes: 0-based, ``len(turns)`` unless re-running."""
        return len(self.turns) if self.position is None else self.position

    def history(self, pick: int | None = None, upto: int | None = None) -> list[types.Content]:
        """The contents to send before turn ``upto`` (default: all), rebuilt from the blobs;
        ``pick`` overrides the choice of the turn before it."""
        from ..gemini.wire import content_from_doc  # loads the SDK: not at %load_ext

        turns = self.turns[:upto]
        if pick is not None:
            self._pick_last(turns, pick)
        try:
            return [content_from_doc(doc, self.blobs) for t in turns for doc in (t.user, t.model)]
        except MissingBlobError as exc:
            raise StoreError(
                f"Chat '{self.name}' cannot go on: its picture {exc.path} is gone from the store "
                "(the folder was deleted or cleaned). Start a new chat with the last picture as a "
                f"reference (%%banana … {{_banana}}), or forget it with %banana reset {self.name}."
            ) from None

    def _pick_last(self, turns: list[Turn], pick: int) -> None:
        """Make the last of ``turns`` continue from its sample ``pick`` (1-based), checked."""
        last = turns[-1] if turns else None
        turns[-1] = replace(last, picked=self._checked_pick(pick, last))

    def _checked_pick(self, pick: int, turn: Turn | None) -> int:
        if turn is None:
            raise OptionError(f"--pick needs a turn to pick from; chat '{self.name}' has none.")
        count = len(turn.samples)
        if not 1 <= pick <= count:
            raise OptionError(
                f"--pick {pick}: the last turn of '{self.name}' has {count} image(s); "
                f"pick 1 to {count}."
            )
        return pick - 1

    def check_model(self, model_id: str) -> None:
        """Refuse another model mid-thread; a shut-down model's replacement may carry on."""

        if self.turns and model_id not in (self.model_id, live_model(self.model_id)[0].id):
            raise OptionError(
                f"Chat '{self.name}' is with {self.model_id}; its history cannot go to "
                f"{model_id} (thought signatures are model-specific). Start a new chat with a "
                f"plain %%banana cell, or drop -m to stay on {self.model_id}."
            )

    def add_turn(
        self,
        prompt: str,
        user: types.Content,
        samples: Sequence[types.Content],
        pick: int | None = None,
        *,
        key: str = "",
        at: int | None = None,
        options: dict[str, str] | None = None,
    ) -> None:
        """Record a successful exchange (and the ``--pick`` that led to it) as turn ``at``
        (default: the last); the turns from ``at`` on are replaced."""
        from ..gemini.wire import content_to_doc  # loads the SDK: not at %load_ext

        del self.turns[at:]
        if pick is not None:
            self._pick_last(self.turns, pick)
        docs = tuple(content_to_doc(s, self.blobs) for s in samples)
        user_doc = content_to_doc(user, self.blobs)
        self.turns.append(Turn(prompt, user_doc, docs, key=key, options=options or {}))
        self.position = None
        self._changed()

    def replayed(self, at: int, pick: int | None = None) -> None:
        """A re-run cell was answered with turn ``at`` as it stands: step past it."""
        if pick is not None and at > 0:
            self.turns[at - 1] = replace(self.turns[at - 1], picked=pick - 1)
            self._changed()
        self.position = at + 1 if at + 1 < len(self.turns) else None

    def same_turns(self, other: Chat, count: int | None = None) -> bool:
        """Whether two threads hold the same first ``count`` turns (all by default)."""
        mine, theirs = self.turns[:count], other.turns[:count]
        if len(mine) != len(theirs):
            return False
        pairs = zip(mine, theirs, strict=True)
        return all(a.key and a.key == b.key and a.picked == b.picked for a, b in pairs)

    def undo(self) -> Turn:
        if not self.turns:
            raise OptionError(f"Chat '{self.name}' has no turn to undo.")
        dropped = self.turns.pop()
        if self.position is not None and self.position >= len(self.turns):
            self.position = None
        self._changed()
        return dropped

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self)


# ``chat3``, or a comparison's row ``chat3-pro`` (the model's short name after the number).
_AUTO_NAME = re.compile(r"chat\d+(-[a-z0-9-]+)?")


def notebook_name() -> str | None:
    """The notebook's path as the kernel knows it: IPython's ``__session__`` (ipykernel sets
    it from the server's JPY_SESSION_NAME), VS Code's ``__vsc_ipynb_file__``, else the
    environment's JPY_SESSION_NAME; ``None`` when nothing names it (a headless run)."""
    namespace = getattr(_shell(), "user_ns", None) or {}
    for variable in ("__session__", "__vsc_ipynb_file__"):
        if isinstance(namespace.get(variable), str) and namespace[variable]:
            return namespace[variable]
    return os.environ.get("JPY_SESSION_NAME") or None


def _shell() -> Any:
    ipython = sys.modules.get("IPython")
    return ipython.get_ipython() if ipython is not None else None


def notebook_scope(store: Store | None = None, cell: str | None = None) -> str:
    """Which notebook this kernel serves, as the key its chats are saved under.

    The notebook's name when the kernel knows it. A name with no chats yet, or no name at
    all, adopts the scope that recorded the running cell (``cell``, Jupyter's cell id) in
    the store: a renamed notebook gets a copy of its chats, and a headless run finds the
    chats of its earlier runs. A headless run with no earlier record is scoped by that
    first cell (cell ids are unique to a notebook) or, when its runner sends no cell ids
    (nbclient, papermill), by the code it has run so far; a terminal IPython is "default".
    """
    name = notebook_name()
    if store is not None and cell and not (name and store.has_chats(name)):
        earlier = store.scope_of_cell(cell, other_than=name or "")
        if earlier is not None and name:
            store.copy_scope(earlier, name)
        if earlier is not None:
            return name or earlier
    if name:
        return name
    if cell:
        return f"cell:{cell}"
    return _headless_run_scope() or "default"


def _headless_run_scope() -> str | None:
    """In a kernel that names neither notebook nor cell: the hash of the code it has run,
    which is the same each time a notebook runs top to bottom and differs between two."""
    shell = _shell()
    if getattr(shell, "kernel", None) is None:
        return None
    inputs = getattr(shell, "user_ns", {}).get("In") or []
    if len(inputs) < 2:
        return None
    digest = hashlib.sha256("\0".join(inputs[1:]).encode()).hexdigest()[:16]
    return f"run:{digest}"


class Chats:
    """The chats of one notebook, which one ``-c`` continues, and their saved copies."""

    def __init__(self, store: Store | None = None, scope: str = "default") -> None:
        self.store = store
        self.scope = scope
        # The last store write that failed, for the turn runner to report in one line (the
        # chats carry on in memory).
        self.save_failed: StoreError | None = None
        self.blobs: Blobs = StoreBlobs(store, self._failed) if store is not None else MemoryBlobs()
        self.chats: dict[str, Chat] = {}
        self.current: str | None = None
        # Held while a turn is planned or committed: the kernel's thread and the panel's
        # worker must not change the chats at once.
        self.lock = threading.RLock()
        self._reserved: set[str] = set()
        # Which cell made which turn: cell id -> (its chat option, chat name, 0-based turn).
        self._cells: dict[str, tuple[str, str, int]] = {}
        if store is not None:
            self._load(store)
            store.on_reopen.append(self._write_back)

    def _failed(self, exc: StoreError) -> None:
        self.save_failed = exc

    def _write(self, method: Callable[..., None], *args: Any) -> None:
        """A store write that, failing, is reported once by the turn runner, not raised."""
        try:
            method(*args)
        except StoreError as exc:
            self._failed(exc)

    def _write_back(self) -> None:
        """The store folder was deleted and made again: save what this kernel holds."""
        store = self.store
        if store is None:
            return
        with self.lock:
            for chat in list(self.chats.values()):
                self._save(chat)
            for cell, (option, chat, turn) in list(self._cells.items()):
                self._write(store.save_cell, self.scope, cell, option, chat, turn)
            self._write(store.set_current_chat, self.scope, self.current)

    def _load(self, store: Store) -> None:
        saved, current = store.load_chats(self.scope)
        for name, (model, turns) in saved.items():
            # position 0: a cell re-run after the restart may be this thread's first turn.
            chat = Chat(name, model, self.blobs, [Turn.from_json(t) for t in turns], position=0)
            chat.on_change = self._save
            self.chats[name] = chat
        self.current = current if current in self.chats else None
        self._cells = store.load_cells(self.scope)

    def new(self, model_id: str, name: str | None = None, suffix: str = "") -> Chat:
        """A chat whose name is reserved at once; ``add`` registers it after its first turn,
        ``release`` frees the name if that turn never comes. ``suffix`` follows the number
        of an unnamed chat (a comparison's rows: ``chat3-lite``, ``chat3-pro``)."""
        with self.lock:
            if name is None:
                number = len(self.chats) + 1
                while self._taken(f"chat{number}") or self._taken(f"chat{number}{suffix}"):
                    number += 1
                name = f"chat{number}{suffix}"
            self._reserved.add(name)
            return Chat(name, model_id, self.blobs)

    def _taken(self, name: str) -> bool:
        return name in self.chats or name in self._reserved

    def release(self, chat: Chat) -> None:
        with self.lock:
            if chat.name not in self.chats:
                self._reserved.discard(chat.name)

    def add(self, chat: Chat) -> None:
        """Register the chat (if new), save it, and make it the one ``-c`` continues."""
        with self.lock:
            chat.on_change = self._save
            self.chats[chat.name] = chat
            self._reserved.discard(chat.name)
            self._save(chat)
            self.make_current(chat.name)

    def made_by(self, cell: str, option: str) -> tuple[Chat, int] | None:
        """The chat and turn an earlier run of this cell made, if the cell still names the
        same chat and the turn is still there."""
        found = self._cells.get(cell)
        if found is None or found[0] != option:
            return None
        chat = self.chats.get(found[1])
        if chat is None or found[2] >= len(chat.turns):
            return None
        return chat, found[2]

    def record_cell(self, cell: str | None, option: str, chat: Chat, turn: int) -> None:
        if not cell:
            return
        self._cells[cell] = (option, chat.name, turn)
        if self.store is not None:
            self._write(self.store.save_cell, self.scope, cell, option, chat.name, turn)

    def replayed(
        self, chat: Chat, at: int, pick: int | None, cell: str | None, option: str
    ) -> None:
        """A re-run answered with turn ``at`` as it stands: the thread is not changed.

        Keyed by cell, nothing moves; without a cell id the walk through a thread read
        back after a restart steps past the turn.
        """
        if cell:
            self.record_cell(cell, option, chat, at)
        else:
            chat.replayed(at, pick)
        self.make_current(chat.name)

    def make_current(self, name: str | None) -> None:
        self.current = name
        if self.store is not None:
            self._write(self.store.set_current_chat, self.scope, name)

    def current_chat(self) -> Chat | None:
        return self.chats.get(self.current) if self.current else None

    def get(self, name: str) -> Chat:
        if name not in self.chats:
            known = ", ".join(self.chats) or "none yet"
            raise OptionError(f"No chat called '{name}' in this notebook (chats: {known}).")
        return self.chats[name]

    def rerun_of(self, new: Chat, keys: Collection[str]) -> Chat | None:
        """For a plain cell's ``new`` chat: the unnamed one (``chatN``, or ``chatN-pro`` for
        a comparison's row on pro) whose first turn one of ``keys`` made. A chat the user
        named is never swapped for another."""
        wanted = _AUTO_NAME.fullmatch(new.name)
        if wanted is None:
            return None
        for chat in self.chats.values():
            found = _AUTO_NAME.fullmatch(chat.name)
            if found and found[1] == wanted[1] and chat.turns and chat.turns[0].key in keys:
                return chat
        return None

    def branch_rerun(self, branch: Chat, keys: Collection[str]) -> Chat | None:
        """An earlier branch with the same first turns whose next turn one of ``keys`` made."""
        keep = len(branch.turns)
        base = branch.name.rsplit(".", 1)[0]  # branch() appends exactly one ".N"
        for chat in self.chats.values():
            if (
                chat.name.startswith(f"{base}.")
                and len(chat.turns) > keep
                and chat.turns[keep].key in keys
                and chat.same_turns(branch, keep)
            ):
                return chat
        return None

    def keep_copy(self, chat: Chat) -> str:
        """Before a re-run cell replaces turns of ``chat``: keep the thread as it was, as a
        branch, unless one just like it exists (so re-running the notebook adds none).
        Returns the name it is kept under."""
        for other in self.chats.values():
            if other is not chat and other.same_turns(chat):
                return other.name
        copy = self.branch(chat.name, len(chat.turns))
        self.chats[copy.name] = copy
        self._reserved.discard(copy.name)
        copy.on_change = self._save
        self._save(copy)
        return copy.name

    def branch(self, name: str, keep: int) -> Chat:
        """A new thread with turns 1..keep of ``name``, named ``name.2`` (or the next free);
        every dot of the parent's name stays (``v1.5`` branches to ``v1.5.2``)."""
        with self.lock:
            source = self.get(name)
            if not 1 <= keep <= len(source.turns):
                raise OptionError(
                    f"'{name}' has turns 1 to {len(source.turns)}; cannot branch at {keep}."
                )
            number = 2
            while self._taken(f"{name}.{number}"):
                number += 1
            self._reserved.add(f"{name}.{number}")
            return Chat(f"{name}.{number}", source.model_id, self.blobs, source.turns[:keep])

    def reset(self, name: str | None) -> list[str]:
        """Forget one chat, or all of them with ``None``; returns the names forgotten."""
        names = list(self.chats) if name is None else [self.get(name).name]
        for gone in names:
            del self.chats[gone]
            if self.store is not None:
                self._write(self.store.delete_chat, self.scope, gone)
        if self.current in names:
            self.make_current(None)
        return names

    def _save(self, chat: Chat) -> None:
        if self.store is not None and chat.name in self.chats:
            turns = [t.to_json() for t in chat.turns]
            self._write(self.store.save_chat, self.scope, chat.name, chat.model_id, turns)
