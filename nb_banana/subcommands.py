"""The ``%banana WORD`` commands, one function each; ``SUBCOMMANDS`` maps the words."""

from __future__ import annotations

import getpass
from collections.abc import Callable
from pathlib import Path
from typing import Any

from IPython.display import display

from . import offline, secrets
from .chat import Chat
from .errors import OptionError
from .session import session
from .settings import settings
from .usage import format_usd


def key(shell: Any, rest: str) -> None:
    """Ask for the API key without echoing it; keep it in memory for this kernel only."""
    typed = getpass.getpass("Gemini API key (kept in memory only): ")
    if not typed.strip():
        print("No key entered; nothing changed.")
        return
    secrets.set_typed_key(typed)
    print("Key set for this kernel (in memory only, never saved).")


def go_offline(shell: Any, rest: str) -> None:
    if "--if-no-key" in rest.split() and secrets.api_key():
        print(f"Using Gemini: a key is set ({secrets.key_source()}).")
        return
    url = offline.go_offline()
    print(
        f"nb_banana is offline: images come from the built-in simulator at {url} "
        "(placeholders, no key needed, no cost). `%banana online` goes back to Gemini."
    )


def go_online(shell: Any, rest: str) -> None:
    offline.go_online()
    print("nb_banana sends calls to Gemini again.")


def last_error(shell: Any, rest: str) -> None:
    print(session().last_error or "No nb_banana error in this kernel yet.")


def models(shell: Any, rest: str) -> None:
    """The model table, and what the API itself lists today when a key is set."""
    from .catalog import wait
    from .modeltable import models_markdown

    text = models_markdown(wait())
    display({"text/markdown": text, "text/plain": text}, raw=True)


def show_settings(shell: Any, rest: str) -> None:
    s = settings()
    lines = [f"Banana.{name} = {getattr(s, name)!r}" for name in sorted(s.trait_names(config=True))]
    lines.append(f"API key: {secrets.key_source()}")
    lines.append(f"offline: {offline.is_offline()}")
    print("\n".join(lines))


def history(shell: Any, rest: str) -> None:
    """A searchable gallery of past generations, newest first."""
    from .history import gallery_html
    from .store import open_store

    store = open_store(settings().store)
    rows = store.search(rest, limit=60)
    display({"text/html": gallery_html(rows, store, rest),
             "text/plain": "\n".join(f"#{r.id} {r.model} {r.prompt[:70]}" for r in rows)},
            raw=True)  # fmt: skip


def export(shell: Any, rest: str) -> None:
    from .history import export as export_rows
    from .store import open_store

    if not rest:
        raise OptionError("Say where to export: %banana export FOLDER")
    store = open_store(settings().store)
    count, folder = export_rows(store.search(limit=1_000_000), store, Path(rest).expanduser())
    print(f"Exported {count} images with index.json and index.csv to {folder}")


def usage(shell: Any, rest: str) -> None:
    """This kernel's calls and the store's all-time totals."""
    from .store import open_store

    s = session()
    totals = open_store(settings().store).totals()
    budget = settings().budget_usd
    lines = [
        f"This kernel: {s.calls} calls, {s.images} images, {s.tokens:,} tokens, "
        f"~{format_usd(s.cost)} ({s.cached} answered from the cache)",
        f"Store {settings().store}: {totals.generations} generations, {totals.images} images, "
        f"{totals.tokens:,} tokens, ~{format_usd(totals.cost)} in all",
    ]
    if budget:
        lines.append(f"Budget: {format_usd(budget)}, {format_usd(budget - totals.cost)} left")
    print("\n".join(lines))


def list_chats(shell: Any, rest: str) -> None:
    from .timeline import chats_html, chats_text

    chats = session().chats
    display({"text/html": chats_html(chats), "text/plain": chats_text(chats)}, raw=True)


def show_chat(shell: Any, rest: str) -> None:
    """The timeline of one chat (the current one without a name)."""
    from .timeline import timeline_html, timeline_text

    chat = _named_or_current(rest)
    display({"text/html": timeline_html(chat), "text/plain": timeline_text(chat)}, raw=True)


def undo(shell: Any, rest: str) -> None:
    chat = _named_or_current(rest)
    dropped = chat.undo()
    print(f"Dropped turn {len(chat.turns) + 1} of '{chat.name}' ({dropped.prompt[:60]!r}); "
          f"the next -c continues from turn {len(chat.turns)}.")  # fmt: skip


def reset(shell: Any, rest: str) -> None:
    chats = session().chats
    if not rest:
        raise OptionError("Say which chat to forget: %banana reset NAME, or --all.")
    forgotten = chats.reset(None if rest == "--all" else rest)
    print(f"Forgot {', '.join(forgotten) or 'nothing'}.")


def panel(shell: Any, rest: str) -> None:
    """Show the widget panel; imported here so that loading the extension skips ipywidgets."""
    from .panel import panel as show_panel

    show_panel()


def _named_or_current(name: str) -> Chat:
    chats = session().chats
    if name:
        return chats.get(name)
    current = chats.current_chat()
    if current is None:
        raise OptionError("No chat yet in this notebook: a %%banana cell starts one.")
    return current


# Commands whose first word may be followed by free text; the others take only options, so
# "%banana key lime pie" stays a prompt.
TAKE_TEXT = frozenset({"history", "export", "chat", "undo", "reset"})

SUBCOMMANDS: dict[str, Callable[[Any, str], None]] = {
    "key": key,
    "offline": go_offline,
    "online": go_online,
    "error": last_error,
    "models": models,
    "settings": show_settings,
    "history": history,
    "export": export,
    "usage": usage,
    "chats": list_chats,
    "chat": show_chat,
    "undo": undo,
    "reset": reset,
    "panel": panel,
}
