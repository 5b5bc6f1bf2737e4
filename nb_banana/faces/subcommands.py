"""The ``%banana WORD`` commands, one function each; ``SUBCOMMANDS`` maps the words."""

from __future__ import annotations

import getpass
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

from IPython.display import display

from ..context import engine, open_store, session, settings
from ..errors import OptionError
from ..gemini import secrets
from ..gemini.usage import format_usd
from ..gemini.vertex import VertexSetupError
from ..memory.chat import Chat
from ..turns import offline
from ..turns.budget import standing


def key(shell: Any, rest: str) -> None:
    """Ask for the API key without echoing it; keep it in memory for this kernel only.
    On Vertex AI with a project, say whose credentials are in use instead (no key is)."""
    if offline.on_vertex() and settings().project:
        print(credentials_line())
        return
    prompt = "Vertex AI express-mode" if offline.on_vertex() else "Gemini"
    typed = getpass.getpass(f"{prompt} API key (kept in memory only): ")
    if not typed.strip():
        print("No key entered; nothing changed.")
        return
    secrets.set_typed_key(typed)
    print("Key set for this kernel (in memory only, never saved).")


def credentials_line() -> str:
    """Which credentials calls use now, in one line: an account's email, never a token."""
    target = offline.vertex_target()
    if target is None:
        return f"Gemini Developer API; API key: {secrets.key_source()}."
    if target.express:
        return f"{target.describe()}; API key: {secrets.key_source()}."
    try:
        who = engine().account(settings().base_url, target)
    except VertexSetupError as exc:
        return str(exc)
    return (
        f"{target.describe()} with Application Default Credentials: {who}. "
        "`%banana key` keys are for the Developer API and Vertex express mode."
    )


def go_offline(shell: Any, rest: str) -> None:
    if "--if-no-key" in rest.split() and offline.on_vertex() and settings().project:
        print(f"Using Vertex AI: project {settings().project} with your Google Cloud login.")
        return
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
    from ..turns.catalog import wait  # a %banana word's own: not at %load_ext
    from .modeltable import models_markdown  # a %banana word's own: not at %load_ext

    text = models_markdown(wait())
    display({"text/markdown": text, "text/plain": text}, raw=True)


def show_settings(shell: Any, rest: str) -> None:
    s = settings()
    lines = [f"Banana.{name} = {getattr(s, name)!r}" for name in sorted(s.trait_names(config=True))]
    lines.append(f"Credentials: {credentials_line()}")
    lines.append(f"offline: {offline.is_offline()}")
    print("\n".join(lines))


def history(shell: Any, rest: str) -> None:
    """A searchable gallery of past generations, newest first."""
    from ..memory.history import gallery_html  # a %banana word's own: not at %load_ext

    text = " ".join(_words(rest))
    store = open_store(settings().store)
    rows = store.search(text, limit=60)
    display({"text/html": gallery_html(rows, store, text),
             "text/plain": "\n".join(f"#{r.id} {r.model} {r.prompt[:70]}" for r in rows)},
            raw=True)  # fmt: skip


def export(shell: Any, rest: str) -> None:
    from ..memory.history import export as export_rows  # a %banana word's own: not at %load_ext

    words = _words(rest)
    if len(words) != 1:
        raise OptionError(
            "Say where to export, as one folder: %banana export FOLDER (quote a name with "
            'spaces: %banana export "my exports").'
        )
    store = open_store(settings().store)
    count, folder = export_rows(store.search(limit=1_000_000), store, Path(words[0]).expanduser())
    print(f"Exported {count} images with index.json and index.csv to {folder}")


def usage(shell: Any, rest: str) -> None:
    """This kernel's calls and the store's all-time totals."""

    s = session()
    store = open_store(settings().store)
    totals, split = store.totals(), store.totals_by_endpoint()
    budget = settings().budget_usd
    lines = [
        f"This kernel: {s.calls} calls, {s.images} images, {s.tokens:,} tokens, "
        f"~{format_usd(s.cost)} ({s.cached} answered from the cache)",
        f"Store {settings().store}: {totals.generations} generations, {totals.images} images, "
        f"{totals.tokens:,} tokens, ~{format_usd(totals.cost)} in all",
    ]
    for endpoint, part in split.items():
        lines.append(
            f"  {_endpoint_name(endpoint)}: {part.generations} generations, "
            f"{part.images} images, ~{format_usd(part.cost)}"
        )
    if budget:
        now = standing(store)
        lines.append(
            f"Budget: {format_usd(budget)}: {now.said()}, {format_usd(now.left)} left "
            "(the simulator's not counted)"
        )
    print("\n".join(lines))


_ENDPOINT_NAMES = {"gemini": "Gemini", "simulator": "simulator (placeholders, not billed)"}


def _endpoint_name(endpoint: str) -> str:
    """An endpoint class as a reader knows it: ``vertex:P/L [URL]`` is Vertex AI's project
    P in location L (``cache.endpoint_class``)."""
    if not endpoint.startswith("vertex:"):
        return _ENDPOINT_NAMES.get(endpoint, endpoint)
    target, _, url = endpoint.removeprefix("vertex:").partition(" ")
    project, _, location = target.partition("/")
    where = "express mode" if project == "express" else f"project {project}, {location}"
    return f"Vertex AI ({where}{f', at {url}' if url else ''})"


def list_chats(shell: Any, rest: str) -> None:
    from .timeline import chats_html, chats_text  # a %banana word's own: not at %load_ext

    chats = session().chats
    display({"text/html": chats_html(chats), "text/plain": chats_text(chats)}, raw=True)


def show_chat(shell: Any, rest: str) -> None:
    """The timeline of one chat (the current one without a name)."""
    from ..gemini.wire import body_bytes  # loads the SDK: not at %load_ext
    from .timeline import timeline_html, timeline_text  # a %banana word's own: not at %load_ext

    chat = _named_or_current(_one_name(rest))
    size = body_bytes(chat.history()) if chat.turns else 0
    display(
        {"text/html": timeline_html(chat, size), "text/plain": timeline_text(chat, size)}, raw=True
    )


def undo(shell: Any, rest: str) -> None:
    chat = _named_or_current(_one_name(rest))
    dropped = chat.undo()
    print(f"Dropped turn {len(chat.turns) + 1} of '{chat.name}' ({dropped.prompt[:60]!r}); "
          f"the next -c continues from turn {len(chat.turns)}.")  # fmt: skip


def reset(shell: Any, rest: str) -> None:
    chats = session().chats
    name = _one_name(rest)
    if not name:
        raise OptionError("Say which chat to forget: %banana reset NAME, or --all.")
    forgotten = chats.reset(None if name == "--all" else name)
    print(f"Forgot {', '.join(forgotten) or 'nothing'}.")


def jobs(shell: Any, rest: str) -> None:
    """``%banana jobs`` lists the Batch API jobs; ``jobs NAME`` shows one and, once it has
    succeeded, fetches its results into the store and shows them; ``jobs cancel NAME``."""
    from ..turns import jobs as kept  # loads the SDK: not at %load_ext

    words = _words(rest)
    if not words:
        print(kept.listing())
        return
    if words[0] == "cancel" and len(words) == 2:
        print(f"Cancelled: {kept.describe(kept.find(words[1]).cancel().row)}")
        return
    if len(words) > 1:
        raise OptionError(
            f"%banana jobs takes one job name, not {rest!r}: %banana jobs NAME, or "
            "%banana jobs cancel NAME (NAME as batches/… or its id)."
        )
    job = kept.find(words[0])
    if not job.done:
        job.refresh()
    try:
        results = job.results() if job.done else None
    finally:  # the job's line, with its counts once fetched, before any error's
        print(kept.describe(job.row))
    if results is not None:
        display(results)


def panel(shell: Any, rest: str) -> None:
    """Show the widget panel; imported here so that loading the extension skips ipywidgets."""
    from .panel import panel as show_panel  # the widgets: not at %load_ext

    show_panel()


def _words(rest: str) -> list[str]:
    """A subcommand's arguments as a shell would split them: quotes group, and go."""
    try:
        return shlex.split(rest)
    except ValueError as exc:
        raise OptionError(
            f"Cannot read {rest!r} ({str(exc).lower()}): close the quote, e.g. "
            '%banana export "my exports".'
        ) from None


def _one_name(rest: str) -> str:
    words = _words(rest)
    if len(words) > 1:
        raise OptionError(f"One chat name, please, not {len(words)} words ({rest}).")
    return words[0] if words else ""


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
TAKE_TEXT = frozenset({"history", "export", "chat", "undo", "reset", "jobs"})

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
    "jobs": jobs,
}
