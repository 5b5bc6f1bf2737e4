"""``%%banana`` and ``%banana``: parse the cell, ask the turn runner, display what comes back.

All option parsing is here (IPython's ``magic_arguments``, which also writes the help for
``%%banana?``); all work is in ``turns``. Errors a user can fix become ``UsageError``: one
line, no traceback; ``%banana error`` shows the traceback that was kept.
"""

from __future__ import annotations

import argparse
import re
import shlex
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display

from ..context import context, session, settings
from ..errors import BananaError, ImageInputError, OptionError
from ..gemini import secrets
from ..gemini.options import normalise_search
from .subcommands import SUBCOMMANDS, TAKE_TEXT

if TYPE_CHECKING:
    from ..answer.comparison import Comparison
    from ..answer.result import Result
    from ..gemini.request import Item
    from ..gemini.stream import Watch
    from ..turns.runner import Ask


@magics_class
class BananaMagics(Magics):
    @magic_arguments()
    @argument(
        "-m", "--model",
        help="model id or alias: lite (default), flash, pro, or any gemini-… id (%%banana models); "
        "a list (lite,flash,pro) compares them: the same prompt to each at once, a row each",
    )  # fmt: skip
    @argument(
        "-a", "--aspect",
        help="aspect ratio: 1:1 2:3 3:2 3:4 4:3 4:5 5:4 9:16 16:9 21:9, and 1:4 4:1 1:8 8:1 "
        "on lite and flash; unset (or auto), the model chooses: an edit keeps its picture's "
        "shape, a new picture is square",
    )  # fmt: skip
    @argument(
        "-s", "--size",
        help="image size: 512 (flash), 1K, 2K, 4K (flash and pro); unset, the API's 1K",
    )  # fmt: skip
    @argument("-n", "--count", type=int, help="number of images, requested concurrently")
    @argument(
        "-f", "--format", metavar="jpeg|png",
        help="Vertex AI only: the answer's image format (imageOutputOptions)",
    )  # fmt: skip
    @argument(
        "--quality", type=int, metavar="0-100",
        help="Vertex AI only: JPEG compression quality (with -f jpeg)",
    )  # fmt: skip
    @argument("-o", "--out", metavar="NAME", help="also bind the result to this variable")
    @argument(
        "-i", "--image", action="append", default=[], metavar="NAME",
        help="attach the image(s) held by this variable (repeatable)",
    )  # fmt: skip
    @argument(
        "--save", metavar="PATH",
        help="save to a file (several images: FILE-1.png, FILE-2.png, …), or into a folder "
        "(numbered after the files already there)",
    )  # fmt: skip
    @argument(
        "--overwrite", action="store_true",
        help="let --save replace existing files (in a folder: number from 1 again)",
    )  # fmt: skip
    @argument(
        "--search", nargs="?", const="web", default=None, metavar="web|image|web,image",
        help="Google Search grounding: web (alone: the default), image search, or both (flash; "
        "pro searches the web)",
    )  # fmt: skip
    @argument("--thinking", metavar="minimal|high", help="thinking level (lite and flash)")
    @argument("--thoughts", action="store_true", help="show the model's thought summaries")
    @argument(
        "-c", "--chat", nargs="?", const="", default=None, metavar="NAME[@K]",
        help="continue the current chat, or the chat NAME (started if new); NAME@K branches "
        "a new thread from turn K of NAME. On the %%banana line, the word after -c is the "
        "chat's name when a chat of that name exists or it is NAME@K, else the prompt's "
        "first word; -c=NAME always names the chat",
    )  # fmt: skip
    @argument(
        "--pick", type=int, metavar="K", help="with -c: continue from image K of the last turn"
    )
    @argument("--dry-run", action="store_true", help="show the request and its cost; send nothing")
    @argument("--fresh", action="store_true", help="ask for a new sample even if one is cached")
    @argument(
        "--each", metavar="NAME",
        help="run the cell once per element of the list NAME: {item} is the element (text or "
        "an image), a dict element fills {key}; paced by Banana.max_concurrency and "
        "Banana.rpm; --save DIR names files by element index",
    )  # fmt: skip
    @argument(
        "--batch", action="store_true",
        help="with --each: submit the elements as Gemini Batch API job(s), half the price, "
        "results within 24 hours; re-run the cell to show them (%%banana jobs lists jobs)",
    )  # fmt: skip
    @line_cell_magic
    def banana(self, line: str, cell: str | None = None) -> None:
        """Generate or edit images with Gemini (Nano Banana) from the cell's text.

        The cell is the prompt; {name} inserts a notebook variable there (an image, or its
        text), {{name}} is a literal {name}. A plain %%banana starts a new chat and
        %%banana -c continues it ("now make it winter"). The result is displayed and bound
        to _banana (and to -o NAME).

        Line forms: %banana PROMPT (options first; %banana -c house a red door continues
        the chat house if there is one, %banana -c=house a red door starts it if not),
        and the commands
        %banana key | offline [--if-no-key] | online | models | settings | error |
        history [TEXT] | export FOLDER | usage | chats | chat [NAME] | undo [NAME] |
        reset NAME|--all | jobs [NAME | cancel NAME].
        """
        try:
            self._dispatch(line, cell)
        except BananaError as exc:
            session().remember_error(exc)
            raise UsageError(secrets.redact(str(exc))) from None
        except Exception as exc:  # a bug, or an odd value: its traceback for %banana error
            session().remember_error(exc)
            raise

    def _dispatch(self, line: str, cell: str | None) -> None:
        word, _, rest = line.strip().partition(" ")
        takes_options_only = not rest or rest.lstrip().startswith("-")
        if cell is None and word in SUBCOMMANDS and (word in TAKE_TEXT or takes_options_only):
            SUBCOMMANDS[word](self.shell, rest.strip())
            return
        if cell is None:
            line, cell = split_options(_parser(), line, is_chat=_is_chat_name)
        try:
            args = parse_argstring(self.banana, line)
        except ValueError as exc:  # shlex, on an unmatched quote
            raise _unreadable(exc) from None
        except UsageError as exc:  # argparse's own line, which names the option but no fix
            raise OptionError(f"{exc}: see %banana? for the options and their values.") from None
        self._generate(args, cell)

    def _generate(self, args: argparse.Namespace, text: str) -> None:
        from ..gemini.request import check_count  # loads Pillow: not at %load_ext
        from ..turns import runner as turns  # loads the SDK: not at %load_ext
        from ..turns.comparison import model_list  # loads the SDK: not at %load_ext

        check_count(args.count)
        if args.pick is not None and args.chat is None:
            raise OptionError("--pick goes with -c: it picks which image the chat continues from.")
        if args.out and not args.out.isidentifier():
            raise OptionError(f"-o needs a Python variable name, not '{args.out}'.")
        if args.batch and args.each is None:
            raise OptionError("--batch goes with --each NAME: it submits the elements of the "
                              "list NAME as a Batch API job.")  # fmt: skip
        if args.each is not None:
            self._each(args, text)
            return
        ask = turns.Ask(
            tuple(self._items(text, args.image, self.shell.user_ns)),
            model=args.model, aspect=args.aspect, size=args.size, count=args.count,
            search=args.search, thoughts=args.thoughts or None, thinking=args.thinking,
            chat=args.chat, new_chat=args.chat is None, pick=args.pick, fresh=args.fresh,
            cell=context().cell, output_format=args.format or "", quality=args.quality,
        )  # fmt: skip
        if (models := model_list(args.model)) is not None:
            self._compare(ask, models, args)
            return
        if args.dry_run:
            display(turns.dry_run(ask))
            return
        self._finish(self._call(ask), args)

    def _items(self, text: str, image_names: list[str], ns: dict[str, Any]) -> list[Item]:
        from ..gemini.images import is_image_like  # loads Pillow: not at %load_ext
        from ..gemini.request import items_from_prompt  # loads Pillow: not at %load_ext

        items = items_from_prompt(text, ns)
        for name in image_names:
            if name not in ns:
                raise ImageInputError(name, "is not defined in the notebook (used with -i).")
            if not is_image_like(ns[name]):
                raise ImageInputError(
                    name,
                    f"holds a {type(ns[name]).__name__}, not an image (PIL image, numpy array, "
                    "image bytes, Path or matplotlib figure).",
                )
            items.append((name, ns[name]))
        return items

    def _call(self, ask: Ask) -> Result:
        from ..gemini.stream import Watch  # loads the SDK: not at %load_ext
        from ..turns import runner as turns  # loads the SDK: not at %load_ext

        planned = turns.plan(ask)
        watch = Watch() if turns.streams(planned) else None
        handle, tick = self._status(planned.request.model.id, planned.request.count, watch)
        try:
            result = turns.finish(planned, tick, watch)
        except BaseException:
            if handle is not None:
                handle.update({"text/plain": ""}, raw=True)
            raise
        self._show(result, handle)
        return result

    def _compare(self, ask: Ask, models: list[str], args: argparse.Namespace) -> None:
        """``-m lite,flash,pro``: the same ask to every model at once, a row per model."""
        from ..answer.display import comparison_bundle  # loads the SDK: not at %load_ext
        from ..turns import comparison  # loads the SDK: not at %load_ext

        if args.save:
            raise OptionError(
                "--save takes one model's pictures: bind the comparison with -o NAME, then "
                "NAME['pro'].save(PATH)."
            )
        rows = comparison.asks(ask, models)
        if args.dry_run:
            for dry in comparison.dry_run(rows):
                display(dry)
            return
        count = settings().count if ask.count is None else ask.count
        handle, tick = self._status(", ".join(row.model or "" for row in rows), count)
        try:
            compared = comparison.run(rows, tick)
        except BaseException:
            if handle is not None:
                handle.update({"text/plain": ""}, raw=True)
            raise
        self._put(*comparison_bundle(compared), handle)
        self._finish(compared, args)

    def _each(self, args: argparse.Namespace, text: str) -> None:
        """``--each NAME``: the cell once per element, one progress display, a contact sheet.

        An interrupt ends the run, not the cell: what finished is shown and bound.
        """
        from ..turns import each  # loads the SDK: not at %load_ext
        from ..turns import runner as turns  # loads the SDK: not at %load_ext
        from ..turns.comparison import model_list  # loads the SDK: not at %load_ext
        from .progress import shown  # loads the SDK (via each): not at %load_ext

        if args.chat is not None:
            raise OptionError("-c does not go with --each: each element is a picture of its "
                              "own, not a chat turn.")  # fmt: skip
        if model_list(args.model) is not None:
            raise OptionError("--each takes one model: run the cell once per model, or "
                              "compare models on one prompt without --each.")  # fmt: skip
        ns = self.shell.user_ns
        base = turns.Ask(
            tuple(self._items("", args.image, ns)), model=args.model, aspect=args.aspect,
            size=args.size, count=args.count, search=args.search,
            thoughts=args.thoughts or None, thinking=args.thinking, fresh=args.fresh,
            output_format=args.format or "", quality=args.quality,
        )  # fmt: skip
        items = each.elements(text, each.lookup(ns, args.each), ns, base, args.each)
        if args.dry_run:
            display(turns.dry_run(items[0].ask))
            print(f"--each {args.each}: {len(items)} elements like this one (the first).")
            return
        if args.batch:
            self._batch(items, args)
            return
        with shown(self.shell, len(items)) as progress:
            result = each.run(items, progress, save=args.save, overwrite=args.overwrite)
        ns["_banana"] = result
        if args.out:
            ns[args.out] = result
        if result.stopped is not None and not (result.done or result.failed):
            raise result.stopped  # refused before anything came back: the line says it all
        display(result)
        if result.stopped is not None:
            raise result.stopped

    def _batch(self, items: list[Any], args: argparse.Namespace) -> None:
        """``--each NAME --batch``: submit, or (re-run) show the jobs' state, or their
        results once they have succeeded; nothing is submitted twice (``batch.py``)."""
        from ..turns import batch  # loads the SDK: not at %load_ext

        if args.save:
            raise OptionError("--save does not go with --batch: once the job has succeeded, "
                              "re-run the cell without --batch (answered from the store, no "
                              "cost) to save the pictures.")  # fmt: skip
        submitted = batch.submit_or_resume(batch.from_each(items), cell=context().cell)
        print(submitted.summary(announced=True))
        ns = self.shell.user_ns
        bound: Any = submitted  # pending: the batch itself (.wait(), .results() later)
        if submitted.done:
            bound = submitted.results()
            display(bound)
        ns["_banana"] = bound
        if args.out:
            ns[args.out] = bound

    def _status(
        self, model: str, count: int, watch: Watch | None = None
    ) -> tuple[Any, Callable[[float], None]]:
        """The status line shown while a call is out (in a kernel), and what updates it;
        for a streamed call (``watch``), the live view of its thoughts and drafts."""
        from ..answer.display import status_bundle  # loads the SDK: not at %load_ext
        from .live import LiveView  # loads the SDK: not at %load_ext

        handle = None
        if getattr(self.shell, "kernel", None) is not None:
            handle = display(status_bundle(model, 0, count), raw=True, display_id=True)
        live = LiveView(model, watch) if watch is not None else None

        def tick(seconds: float) -> None:
            if handle is None:
                return
            bundle = live.bundle(seconds) if live is not None else None
            handle.update(bundle or status_bundle(model, seconds, count), raw=True)

        return handle, tick

    def _show(self, result: Result, handle: Any) -> None:
        from ..answer.display import result_bundle  # loads the SDK: not at %load_ext

        self._put(*result_bundle(result, with_text=False), handle)
        if result.text:  # the bundle left it out: shown once, as Markdown or as plain text
            display({"text/markdown": result.text, "text/plain": result.text}, raw=True)

    def _put(self, data: dict, meta: dict, handle: Any) -> None:
        """Show a bundle in place of the status line, or below the cell if there is none."""
        if handle is not None:
            handle.update(data, metadata=meta, raw=True)
        else:
            display(data, metadata=meta, raw=True)

    def _finish(self, result: Result | Comparison, args: argparse.Namespace) -> None:
        ns = self.shell.user_ns
        ns["_banana"] = result
        if args.out:
            ns[args.out] = result
        if args.save:
            from ..answer.result import saved_line  # loads the SDK: not at %load_ext

            print(saved_line(result.save(args.save, overwrite=args.overwrite)))


def watch_cells(shell: Any) -> None:
    """Know which notebook cell is running: Jupyter gives each cell an id, and re-runs of a
    cell are recognised by it (``turns``). A terminal IPython gives none."""

    def before(info: Any) -> None:
        context().cell = getattr(info, "cell_id", None) or None
        context().markups = 0

    def after(result: Any) -> None:
        context().cell = None

    shell.events.register("pre_run_cell", before)
    shell.events.register("post_run_cell", after)


def _parser() -> argparse.ArgumentParser:
    return BananaMagics.banana.parser


def split_options(
    parser: argparse.ArgumentParser,
    line: str,
    is_chat: Callable[[str], bool] = lambda word: False,
) -> tuple[str, str]:
    """Split ``%banana -n 2 a cat's hat`` into options and prompt without shell-quoting it.

    ``is_chat`` says whether a word names a chat, so that ``-c house a red door`` continues
    the chat house while ``-c make it winter`` continues the current chat.
    """
    rest = line.strip()
    taken: list[str] = []
    while rest.startswith("-"):
        token, _, rest = rest.partition(" ")
        rest = rest.lstrip()
        action = parser._option_string_actions.get(token.split("=")[0])
        if action is None:
            raise UsageError(f"Unknown option {token}: see %banana? for the options.")
        taken.append(token)
        if "=" in token or isinstance(action, _FLAG_ACTIONS):
            continue
        if action.nargs is None or (
            action.nargs == "?" and _is_value_of(action, rest.split(" ", 1)[0], is_chat)
        ):
            value, rest = _next_word(rest)
            taken.append(shlex.quote(value))
    return " ".join(taken), rest


_FLAG_ACTIONS = (argparse._StoreTrueAction, argparse._StoreConstAction)


def _is_value_of(action: argparse.Action, word: str, is_chat: Callable[[str], bool]) -> bool:
    """Whether ``word`` is the value of an option whose value is optional (``--search
    image a fox``, ``-c house a red door``) rather than the prompt's first word (``--search
    a fox``, ``-c make it winter``)."""
    if action.nargs != "?":
        return False
    if "--chat" in action.option_strings:
        return bool(_BRANCH.fullmatch(word)) or is_chat(word)
    if "--search" not in action.option_strings:
        return False
    try:
        return bool(normalise_search(word))
    except ValueError:
        return False


# ``-c NAME@K`` (or ``-c @K``, the current chat): a branch, never a prompt's first word.
_BRANCH = re.compile(r"[^\s@]*@\d+")


def _is_chat_name(word: str) -> bool:
    """A chat of this name exists in the notebook (read only when a line has ``-c``)."""
    return word in session().chats.chats


def _next_word(text: str) -> tuple[str, str]:
    if not text:
        raise UsageError("An option is missing its value: see %banana? for the options.")
    lexer = shlex.shlex(text, posix=True, punctuation_chars=False)
    lexer.whitespace_split = True
    try:
        value = lexer.get_token() or ""
    except ValueError as exc:
        raise _unreadable(exc) from None
    return value, lexer.instream.read().lstrip()


def _unreadable(exc: ValueError) -> OptionError:
    return OptionError(
        f"Cannot read the options ({str(exc).lower()}): close the quote, "
        "e.g. --save 'my pictures/cat.png'."
    )
