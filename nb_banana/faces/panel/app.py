"""The panel: widgets wired to the turn runner (``turns``), as ``%%banana`` is to a cell.

A click only reads the widgets, shows the busy state and hands the work to the panel's worker
thread (preparing a request encodes images, which can take a while); the call itself runs on
the engine's loop, so the kernel stays free. Outcomes come back through the future's done
callback and are shown from the worker, never from the engine's loop.
"""

from __future__ import annotations

import concurrent.futures
import functools
import threading
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets

from ...answer.comparison import Comparison
from ...answer.display import caption
from ...answer.result import Result
from ...context import session
from ...errors import CancelledError, OptionError
from ...gemini.request import items_from_prompt
from ...gemini.stream import Watch
from ...gemini.usage import format_usd
from ...memory.chat import Chat
from ...turns import catalog, comparison
from ...turns import runner as turns
from ..live import LiveView
from .call import Call
from .form import Form, Options
from .gallery import Gallery, close_tree, locate
from .references import Reference, ReferenceTray, reference
from .snapshot import Snapshot
from .style import ROOT_CLASS, one_line, status_html, style_widget, styled
from .timeline import Timeline

# One thread for every panel's background work: preparing requests, thumbnails, outcomes.
# Serialising it keeps widget updates from the panel's own code in order.
_WORKER = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="nb_banana-panel")
_TICK_SECONDS = 0.5
# "Continue from" on the chat's last turn: (chat name, turns then, sample number).
Pick = tuple[str, int, int]


@dataclass(frozen=True)
class Click:
    """What one click asked for, read from the widgets at the moment of the click."""

    prompt: str
    options: Options
    follow_up: bool
    sent: tuple[Reference, ...]
    thread: str | None  # the chat Continue adds to: the panel's own, else the current
    pick: Pick | None = None


class Panel:
    """The widget face of nb_banana, over the same turn runner as ``%%banana``.

    Generate starts a new chat (a plain ``%%banana``), Continue adds a turn to the
    notebook's current chat (``%%banana -c``) and Stop cancels the call in flight, leaving
    the chat as it was. The latest result is also bound to ``_banana``.
    """

    def __init__(self, namespace: MutableMapping[str, object] | None = None) -> None:
        self._ns = namespace if namespace is not None else _user_namespace()
        self._call: Call | None = None
        self._pick: Pick | None = None
        self._thread: str | None = None  # the chat this panel's Continue adds to
        self._rows: set[str] = set()  # the chats of the last comparison's rows
        self._results = 0
        self.message = ""
        self.status = widgets.HTML(layout=widgets.Layout(flex="1 1 auto", width="auto"))
        # A streamed call's thoughts and latest draft while it runs (``--thoughts``).
        self.live = widgets.HTML(layout=widgets.Layout(display="none"))
        self.form = Form()
        self.references = ReferenceTray(self._ns, self._background, self._say, self._guard)
        self.gallery = Gallery(
            self._ns, self.references.add, self._follow, self._background, self._say, self._guard
        )
        self.timeline = Timeline()
        self.snapshot = Snapshot()
        self.generate_button = _action("Generate", "magic", "Start a new chat (like %%banana)")
        self.generate_button.button_style = "primary"
        self.continue_button = _action(
            "Continue", "comments", "Add a turn to the current chat (like %%banana -c)"
        )
        self.stop_button = _action("Stop", "stop", "Cancel the call; the chat stays as it was")
        self.stop_button.disabled = True
        self.generate_button.on_click(self._guard(lambda _: self._start(follow_up=False)))
        self.continue_button.on_click(self._guard(lambda _: self._start(follow_up=True)))
        self.stop_button.on_click(self._guard(lambda _: self.stop()))
        for box in (self.form.model, self.form.compare, self.form.compared):
            box.observe(self._guard(self._follow_model), names="value")
        self._follow_model()
        self._list_models()
        self.timeline.show(session().chats.current_chat())
        self.widget = self._layout()
        self._say("Write a prompt, then Generate.", "idle")

    def _list_models(self) -> None:
        """Ask the API for its models in the background; new image models join the choices."""
        asked = catalog.ask()
        if asked is not None:
            asked.add_done_callback(lambda _: self._background(self.form.refresh_models))

    def stop(self) -> None:
        """Cancel the call in flight; a call that had already completed is kept and shown."""
        call = self._call
        if call is not None and call.stop():
            self._end(call, lambda: self._say(str(CancelledError()), "idle"))

    def wait(self, timeout: float = 60.0) -> None:
        """Block until the call in flight is shown and background work is done (for scripts)."""
        call = self._call
        if call is not None and not call.shown.wait(timeout):
            raise TimeoutError(f"the panel's call did not finish within {timeout:g} s")
        _WORKER.submit(lambda: None).result(timeout)

    def close(self) -> None:
        """Stop any call in flight and remove the panel's widgets from the kernel."""
        self.stop()
        close_tree(self.widget)
        self.snapshot.widget.close()

    def __repr__(self) -> str:
        return f"<nb_banana panel: {self.form.model.value}, {self._results} result(s)>"

    def _layout(self) -> widgets.Widget:
        title = widgets.HTML(
            '<span class="nbb-title">🍌 nb_banana</span> <span class="nbb-muted">'
            "Generate starts a chat · Continue adds to it · Stop cancels</span>"
        )
        actions = widgets.HBox(
            [self.generate_button, self.continue_button, self.stop_button, self.status]
        )
        chat = widgets.VBox([widgets.HTML("<b>Chat</b>"), self.timeline.widget,
                             self.timeline.totals])  # fmt: skip
        root = widgets.VBox(
            [
                style_widget(),
                title,
                self.form.widget,
                self.references.widget,
                styled(actions, "nbb-row"),
                self.live,
                self.gallery.widget,
                styled(chat, "nbb-section"),
            ]
        )
        return styled(root, ROOT_CLASS)

    def _start(self, *, follow_up: bool) -> None:
        """The click path: read the widgets, show busy, hand the rest to the worker."""
        if self._call is not None and not self._call.shown.is_set():
            return
        click = self._click(follow_up)
        call = Call(
            ", ".join(click.options.models or ()) or click.options.model, click.options.count
        )
        self._call = call
        self._set_busy(True)
        self._show_progress(call, 0.0)
        _WORKER.submit(self._send, call, click)
        threading.Thread(
            target=self._tick, args=(call,), name="nb_banana-panel-ticker", daemon=True
        ).start()

    def _click(self, follow_up: bool) -> Click:
        return Click(
            self.form.prompt.value, self.form.options(), follow_up,
            tuple(self.references.chosen), self._thread, self._pick if follow_up else None,
        )  # fmt: skip

    def _send(self, call: Call, click: Click) -> None:
        """On the worker: plan the turn (``{name}`` resolved, images encoded), answer it from
        the store or send it; the commit waits for the call, so Stop cannot undo a result."""
        if click.options.models is not None:
            try:
                self._send_rows(call, click)
            except Exception as exc:
                self._end(call, functools.partial(self._fail, exc))
            return
        try:
            planned = turns.plan(self._turn(click))
            stored = turns.from_store(planned)
            watch = Watch() if turns.streams(planned) else None
            if watch is not None:
                call.live = LiveView(planned.request.model.id, watch)
            future = None if stored else call.submit(lambda: turns.send(planned, watch=watch))
        except Exception as exc:
            self._end(call, functools.partial(self._fail, exc))
            return
        if stored is not None:
            self._end(call, lambda: self._show_result(stored, click))
        elif future is None:
            turns.release(planned)
        else:
            future.add_done_callback(
                lambda done: _WORKER.submit(self._finish, call, done, planned, click)
            )

    def _send_rows(self, call: Call, click: Click) -> None:
        """A comparison, on the worker: a row per model, planned, answered from the store or
        sent all at once (``comparison.py``); committed when every call is back."""
        if click.follow_up:
            raise OptionError(
                "A chat has one model: to carry on with one of a comparison's models, press "
                "Continue from on its picture (or untick Compare models)."
            )
        plans = comparison.plan(comparison.asks(self._turn(click), click.options.models))
        try:
            stored = comparison.from_store(plans)
            sent = comparison.to_send(plans, stored)
            future = call.submit(lambda: turns.send_all(sent)) if sent else None
        except Exception:
            comparison.release(plans)
            raise
        if not sent:
            self._end(call, lambda: self._show_rows(comparison.commit(plans, stored, []), click))
        elif future is None:
            comparison.release(plans)
        else:
            future.add_done_callback(
                lambda done: _WORKER.submit(self._finish_rows, call, done, plans, stored, click)
            )

    def _finish_rows(
        self, call: Call, future: concurrent.futures.Future[list], plans: list[turns.Plan],
        stored: list[Result | None], click: Click,
    ) -> None:  # fmt: skip
        """Every row's call is back (or all were stopped): commit them, in the order asked."""
        if future.cancelled():
            comparison.release(plans)
            self._end(call, lambda: self._say(str(CancelledError()), "idle"))
            return
        try:
            compared = comparison.commit(plans, stored, future.result())
        except Exception as exc:
            comparison.release(plans)
            self._end(call, functools.partial(self._fail, exc))
            return
        self._end(call, lambda: self._show_rows(compared, click))

    def _turn(self, click: Click) -> turns.Ask:
        """The click as the runner's ``Ask``: the same one a ``%%banana`` cell makes."""
        o = click.options
        items = (
            *items_from_prompt(click.prompt, self._ns),
            *((r.name, r.value) for r in click.sent),
        )
        book = session().chats
        chat = (
            book.chats.get(click.thread or "") or book.current_chat() if click.follow_up else None
        )
        return turns.Ask(
            tuple(items), model=o.model, aspect=o.aspect, size=o.size, count=o.count,
            search=o.search, thoughts=o.thoughts, thinking=o.thinking,
            chat=(chat.name if chat else "") if click.follow_up else None,
            new_chat=not click.follow_up, pick=_pick_for(chat, click.pick), rerun=False,
        )  # fmt: skip

    def _finish(
        self, call: Call, future: concurrent.futures.Future[list], planned: turns.Plan,
        click: Click,
    ) -> None:  # fmt: skip
        """A call that completed is committed, whatever Stop said; a cancelled one is not."""
        if future.cancelled():
            turns.release(planned)
            self._end(call, lambda: self._say(str(CancelledError()), "idle"))
            return
        try:
            result = turns.commit(planned, future.result())
        except Exception as exc:
            turns.release(planned)
            self._end(call, functools.partial(self._fail, exc))
            return
        self._end(call, lambda: self._show_result(result, click))

    def _show_result(self, result: Result, click: Click) -> None:
        self._pick = None
        self._results += 1
        self._thread = result.chat
        self._ns["_banana"] = result
        self.gallery.add(result, self._results)
        self.timeline.show(session().chats.chats.get(result.chat or ""))
        self.references.drop_sent_once(click.sent)
        self._say(f"Done: {caption(result)}", "ok")
        self._keep_still()

    def _show_rows(self, compared: Comparison, click: Click) -> None:
        """A comparison's rows in the gallery, the first model's on top; "Continue from" on
        a row's picture carries on that row's chat, on its model."""
        self._pick = None
        self._thread = None
        results = list(compared.values())
        self._rows = {result.chat for result in results if result.chat}
        for offset, result in reversed(list(enumerate(results, self._results + 1))):
            self.gallery.add(result, offset)
        self._results += len(results)
        self._ns["_banana"] = compared
        self.timeline.show(session().chats.current_chat())
        self.references.drop_sent_once(click.sent)
        failed = "".join(f" · {model} failed: {one_line(error)}"
                         for model, error in compared.failed.items())  # fmt: skip
        self._say(f"Done: {len(results)} models compared · ~{format_usd(compared.cost)}{failed}",
                  "ok")  # fmt: skip
        self._keep_still()

    def _keep_still(self) -> None:
        """The gallery's still under the panel follows the gallery."""
        self.snapshot.take(list(zip(self.gallery.numbers, self.gallery.results, strict=True)))

    def _follow(self, result: Result, index: int, label: str) -> None:
        """Continue from: pick the sample on the chat's last turn, else send it once.

        On the last turn the core's ``pick`` makes that sample the chat's answer (what
        ``%%banana -c --pick N`` does), so the history carries it with its signature; an
        older image goes as a one-time first reference of the next Continue instead. A
        comparison's picture carries on its own row's chat, on that row's model.
        """
        book = session().chats
        if result.chat in self._rows:
            self._thread = result.chat
            self.form.use_model(result.request.model.id)
        chat = book.chats.get(self._thread or "") or book.current_chat()
        if chat is not None and result.chat == chat.name and result.turn == len(chat.turns):
            self._pick = (chat.name, len(chat.turns), locate(result, index)[0] + 1)
            self._say(f"The next Continue builds on {label}.", "idle")
            return
        self._pick = None
        self.references.add(reference(label, result.outputs[index].data, once=True))
        self._say(f"The next Continue sends {label} first, as a reference.", "idle")

    def _end(self, call: Call, show: Callable[[], None]) -> None:
        """Show a call's outcome (once, whoever gets there first), then be ready again."""
        if not call.end():
            return
        try:
            self.live.layout.display = "none"
            self.live.value = ""
            show()
        except Exception as exc:
            self._fail(exc)
        finally:
            self._set_busy(False)
            call.shown.set()

    def _tick(self, call: Call) -> None:
        """The elapsed time every tick; a streamed call's live view as each chunk comes."""
        while not call.shown.is_set():
            if call.live is None:
                call.shown.wait(_TICK_SECONDS)
            elif call.live.watch.changed.wait(_TICK_SECONDS):
                call.live.watch.changed.clear()  # woken: wait for the next chunk
            if not call.shown.is_set():
                call.tick(functools.partial(self._show_progress, call))

    def _show_progress(self, call: Call, seconds: float) -> None:
        bundle = call.live.bundle(seconds) if call.live is not None else None
        if bundle is not None:
            self.live.value = bundle["text/html"]
            self.live.layout.display = ""
            self._say(f"💭 {call.model_id} is thinking · {seconds:.0f} s", "busy")
            return
        what = f"{call.count} images" if call.count > 1 else "an image"
        self._say(f"⏳ Asking {call.model_id} for {what} · {seconds:.0f} s", "busy")

    def _set_busy(self, busy: bool) -> None:
        self.generate_button.disabled = busy
        self.continue_button.disabled = busy
        self.stop_button.disabled = not busy

    def _follow_model(self, _change: object = None) -> None:
        self.references.set_model(self.form.spec())

    def _say(self, text: str, kind: str) -> None:
        self.message = text
        self.status.value = status_html(text, kind)

    def _fail(self, exc: BaseException) -> None:
        """One line in the status, the traceback kept for ``%banana error``."""
        session().remember_error(exc)
        self._say(one_line(exc), "error")

    def _guard(self, action: Callable[..., None]) -> Callable[..., None]:
        """Wrap a handler so that a failure becomes the status line, never a traceback."""

        @functools.wraps(action)
        def run(*args: Any) -> None:
            try:
                action(*args)
            except Exception as exc:
                self._fail(exc)

        return run

    def _background(self, action: Callable[..., None], *args: Any) -> None:
        _WORKER.submit(self._guard(action), *args)


def _pick_for(chat: Chat | None, wish: Pick | None) -> int | None:
    """The sample to continue from, if the chat has not moved on since it was chosen."""
    if chat is None or wish is None or wish[:2] != (chat.name, len(chat.turns)):
        return None
    return wish[2]


def _action(description: str, icon: str, tooltip: str) -> widgets.Button:
    """A main button; its class (``nbb-generate`` …) lets a page, or a test, find it."""
    button = widgets.Button(
        description=description, icon=icon, tooltip=tooltip, layout=widgets.Layout(width="auto")
    )
    button.add_class(f"nbb-{description.lower()}")
    return button


def _user_namespace() -> MutableMapping[str, object]:
    from IPython import get_ipython

    shell = get_ipython()
    return shell.user_ns if shell is not None else {}
