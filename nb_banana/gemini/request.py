"""Prompt pieces + options -> a validated ``Request``, checked against the model table.

Everything a user can get wrong is caught here, before a byte is sent: unknown
``{name}``, values that are not images, too many or unusable images, options the model
does not have. The SDK is not imported here; ``wire`` turns a ``Request`` into SDK types.
"""

from __future__ import annotations

import difflib
import hashlib
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ImageInputError, OptionError, PromptError
from . import images
from .models import ModelSpec, UnknownModel, current_models, live_model
from .options import (
    normalise_aspect,
    normalise_search,
    normalise_size,
    normalise_thinking,
    output_options,
)
from .prompt import Ref, parse


@dataclass(frozen=True)
class TextPart:
    text: str


@dataclass(frozen=True)
class ImagePart:
    """An image to send, with the name the user knows it by (for notes and dry runs)."""

    image: images.EncodedImage
    label: str


Part = TextPart | ImagePart
# What callers hand in: literal text, or (name, value) for a value to send as image(s).
Item = str | tuple[str, object]


@dataclass(frozen=True)
class Request:
    """One turn to send: the parts in prompt order and the options, already validated."""

    model: ModelSpec
    parts: tuple[Part, ...]
    aspect: str  # "" : not sent, the model's choice (an edit keeps its picture's shape)
    size: str  # "" : not sent, the API's default (1K)
    count: int = 1
    search: tuple[str, ...] = ()  # Google Search kinds: "web", "image"
    thoughts: bool = False
    thinking: str = ""  # "minimal" / "high"; "" leaves the model's default
    notes: tuple[str, ...] = ()
    # The shut-down model the user named, when the call goes to its replacement instead.
    replaced: str = ""
    # Vertex AI only (``imageOutputOptions``): the answer's format and JPEG quality;
    # "" / ``None`` leave the model's own.
    output: str = ""
    quality: int | None = None

    @property
    def images(self) -> list[ImagePart]:
        return [p for p in self.parts if isinstance(p, ImagePart)]

    @property
    def text(self) -> str:
        """The prompt's text with each image shown as ``[name]``, for captions and history."""
        return "".join(p.text if isinstance(p, TextPart) else f"[{p.label}]" for p in self.parts)


def items_from_prompt(text: str, namespace: Mapping[str, object]) -> list[Item]:
    """Resolve the ``{name}`` references of cell text against the notebook's variables."""
    items: list[Item] = []
    for segment in parse(text):
        if isinstance(segment, Ref):
            items.append(_resolve_ref(segment.name, namespace))
        else:
            items.append(segment)
    return items


def _resolve_ref(name: str, namespace: Mapping[str, object]) -> Item:
    if name not in namespace:
        visible = [k for k in namespace if not k.startswith("_")]
        close = difflib.get_close_matches(name, visible, n=3)
        hint = f" Did you mean {', '.join('{' + c + '}' for c in close)}?" if close else ""
        raise PromptError(
            f"{{{name}}} is not defined in the notebook.{hint} "
            f"Define it first, or write {{{{{name}}}}} for a literal {{{name}}}."
        )
    value = namespace[name]
    if images.is_image_like(value):
        return (name, value)
    if isinstance(value, str) and (path := images.image_file(value)) is not None:
        return (name, images.NamedFile(path))
    if callable(hint := getattr(type(value), "_banana_not_a_picture_", None)):
        raise PromptError(hint(value, name))  # many results (a comparison, an --each run)
    if inspect.ismodule(value) or inspect.isroutine(value) or inspect.isclass(value):
        kind = "module" if inspect.ismodule(value) else "function or class"
        raise PromptError(
            f"{{{name}}} is a {kind}, not an image or text; "
            f"write {{{{{name}}}}} for a literal {{{name}}}."
        )
    return str(value)


def build_request(
    items: Sequence[Item],
    *,
    model: str,
    aspect: str,
    size: str,
    count: int = 1,
    search: tuple[str, ...] | str | bool = (),
    thoughts: bool = False,
    thinking: str = "",
    defaults: frozenset[str] = frozenset(),
    yielding: frozenset[str] = frozenset(),
    output_format: str = "",
    quality: int | None = None,
) -> Request:
    """Validate options for the model, encode the images, and assemble the parts in order.

    A shut-down model is replaced by its successor here, so every face says so alike.
    ``defaults`` names the options (``aspect``, ``size``, ``thinking``, ``thoughts``) whose
    value came from the notebook-wide settings rather than the cell: one the model cannot
    honour is replaced by what it can, with a one-line note, instead of being refused.
    ``yielding`` names the cell's own options (those and ``search``) that give way alike:
    a comparison sends one cell's options to every model, and one model's lack must not
    refuse the rest. ``output_format`` and ``quality`` are Vertex AI's output options
    (the caller refuses them on the Developer API).
    """
    try:
        output, quality = output_options(output_format, quality)
    except ValueError as exc:
        raise OptionError(str(exc)) from None
    spec, replaced_note = _model(model)
    aspect, size, thinking, thoughts, search, dropped = _give_way(
        spec, defaults, yielding, aspect, size, thinking, thoughts, search
    )
    options = _check_options(spec, aspect, size, count, search, thoughts, thinking)
    parts = _encode_parts(items)
    _check_parts(spec, parts)
    notes = [*dropped]
    notes += [p.image.note for p in parts if isinstance(p, ImagePart) and p.image.note]
    if replaced_note:
        notes.insert(0, replaced_note)
    if not spec.known:
        notes.insert(0, f"{spec.id} is not in nb_banana's model table: its limits are not checked.")
    return Request(
        spec, tuple(parts), *options, notes=tuple(notes),
        replaced=model.strip() if replaced_note else "", output=output, quality=quality,
    )  # fmt: skip


def check_count(count: int | None) -> None:
    """Refuse a count outside 1–16 (``None`` means "not given": the settings' count)."""
    if count is not None and not 1 <= count <= 16:
        raise OptionError(f"-n/--count must be between 1 and 16, not {count}.")


def _give_way(
    spec: ModelSpec,
    defaults: frozenset[str],
    yielding: frozenset[str],
    aspect: str,
    size: str,
    thinking: str,
    thoughts: bool,
    search: tuple[str, ...] | str | bool,
) -> tuple[str, str, str, bool, tuple[str, ...] | str | bool, list[str]]:
    """Options the model cannot honour, swapped for what it can: a notebook-wide default
    (``%config Banana.size = "2K"``) must not make every call to a smaller model fail, nor
    one model's lack refuse a whole comparison (``yielding``)."""
    notes: list[str] = []
    giving_way = defaults | yielding
    if not spec.known or not giving_way:
        return aspect, size, thinking, thoughts, search, notes

    def instead(option: str, value: object, used: object, said: str = "") -> None:
        named = f"Banana.{option} = {value}" if option in defaults else _flag(option, value)
        notes.append(f"{named} is not available on {spec.id}: using {said or used}.")

    try:
        size_sent, aspect_sent = normalise_size(size), normalise_aspect(aspect)
        thinking_sent, kinds = normalise_thinking(thinking), normalise_search(search)
    except ValueError:
        return aspect, size, thinking, thoughts, search, notes  # refused by _check_options
    if "size" in giving_way and spec.sizes and lacks(spec, "size", size_sent):
        size = "1K" if "1K" in spec.sizes else spec.sizes[0]
        instead("size", size_sent, size)
    if "aspect" in giving_way and spec.aspects and lacks(spec, "aspect", aspect_sent):
        aspect = "1:1" if "1:1" in spec.aspects else spec.aspects[0]
        instead("aspect", aspect_sent, aspect)
    if "thinking" in giving_way and lacks(spec, "thinking", thinking_sent):
        thinking = ""
        instead("thinking", thinking_sent, "", "the model's own level")
    if "thoughts" in giving_way and lacks(spec, "thoughts", thoughts):
        thoughts = False
        instead("thoughts", True, False)
    kept = tuple(kind for kind in kinds if not lacks(spec, "search", kind))
    if "search" in yielding and kept != kinds:
        search = kept
        used = _flag("search", ",".join(kept)) if kept else "no search"
        instead("search", ",".join(kinds), "", used)
    return aspect, size, thinking, thoughts, search, notes


# How the magic spells each option that may give way, for the notes about it.
_FLAGS = {"aspect": "-a", "size": "-s", "thinking": "--thinking", "thoughts": "--thoughts",
          "search": "--search"}  # fmt: skip


def _flag(option: str, value: object) -> str:
    return _FLAGS[option] if value is True else f"{_FLAGS[option]} {value}"


def lacks(spec: ModelSpec, option: str, value: str | bool) -> bool:
    """Whether a model of the table cannot honour one option value, in the API's spelling
    and one search kind at a time: what ``build_request`` refuses, or lets give way."""
    if not spec.known or not value:
        return False
    if option == "thoughts":
        return not spec.thinking
    taken = {"aspect": spec.aspects, "size": spec.sizes, "thinking": spec.thinking_levels,
             "search": spec.search}  # fmt: skip
    return value not in taken[option]


def refuse_untaken(specs: Sequence[ModelSpec], given: Mapping[str, object]) -> None:
    """In a comparison each model drops, with a note, an option it lacks; an option that no
    model of it takes is refused, in one line that says who has it."""
    untaken = [pair for pair in _spelled(given) if all(lacks(spec, *pair) for spec in specs)]
    if not untaken:
        return
    option, value = untaken[0]
    models = ", ".join(spec.id for spec in specs)
    raise OptionError(
        f"None of {models} takes {_flag(option, value)}; for it use "
        f"{_who(lambda m: not lacks(m, option, value))}."
    )


def _spelled(given: Mapping[str, object]) -> list[tuple[str, str | bool]]:
    """The options given (``None``, ``""`` or ``()``: not given) in the API's spelling, each
    search kind on its own."""
    spell = {"aspect": normalise_aspect, "size": normalise_size, "thinking": normalise_thinking}
    try:
        pairs: list[tuple[str, str | bool]] = [
            (option, spell[option](str(value)))
            for option, value in given.items()
            if option in spell and value
        ]
        kinds = normalise_search(given.get("search"))  # type: ignore[arg-type]
    except ValueError as exc:
        raise OptionError(str(exc)) from None
    pairs += [("search", kind) for kind in kinds]
    return pairs + ([("thoughts", True)] if given.get("thoughts") else [])


def _model(name: str) -> tuple[ModelSpec, str]:
    try:
        return live_model(name)
    except UnknownModel as exc:
        raise OptionError(str(exc)) from None


def _check_options(
    spec: ModelSpec,
    aspect: str,
    size: str,
    count: int,
    search: tuple[str, ...] | str | bool,
    thoughts: bool,
    thinking: str,
) -> tuple[str, str, int, tuple[str, ...], bool, str]:
    """The options in the API's spelling, each checked against what ``spec`` takes."""
    try:
        size = normalise_size(size)
        aspect = normalise_aspect(aspect) if spec.known else aspect.strip()
        kinds = normalise_search(search)
        thinking = normalise_thinking(thinking)
    except ValueError as exc:
        raise OptionError(str(exc)) from None
    check_count(count)
    _check_taken(spec, "makes", f"{size} images", size, spec.sizes, "-s", lambda m: m.sizes)
    _check_taken(spec, "takes", f"the aspect ratio {aspect}", aspect, spec.aspects, "-a",
                 lambda m: m.aspects)  # fmt: skip
    if thinking:
        _check_taken(spec, "takes", f"--thinking {thinking}", thinking, spec.thinking_levels,
                     "--thinking", lambda m: m.thinking_levels)  # fmt: skip
    for kind in kinds:
        _check_taken(spec, "takes", f"--search {kind}", kind, spec.search, "--search",
                     lambda m: m.search)  # fmt: skip
    if thoughts and not spec.thinking:
        raise OptionError(
            f"--thoughts needs a thinking model; {spec.id} has none: use "
            f"{_who(lambda m: m.thinking)}."
        )
    return aspect, size, count, kinds, thoughts, thinking


def _check_taken(
    spec: ModelSpec, verb: str, what: str, value: str, taken: tuple[str, ...], flag: str,
    field: Callable[[ModelSpec], tuple[str, ...]],
) -> None:  # fmt: skip
    """Refuse ``value`` if ``spec`` lacks it, in one line: what it takes, and who has it."""
    if not spec.known or not value or value in taken:
        return
    offers = f"{flag} {' / '.join(taken)}" if taken else f"no {flag}"
    raise OptionError(
        f"{spec.id} does not take {what} ({verb} {offers}); for {value} use "
        f"{_who(lambda m: value in field(m))}."
    )


def _who(has: Callable[[ModelSpec], object]) -> str:
    """``-m lite or -m flash``: the current models that have something, by first alias."""
    names = [f"-m {m.aliases[0]}" for m in current_models() if m.aliases and has(m)]
    return " or ".join(names) or "a model that has it (%banana models)"


def _encode_parts(items: Sequence[Item]) -> list[Part]:
    named = [item for item in items if isinstance(item, tuple)]
    encoded = iter(images.encode_images(named))
    parts: list[Part] = []
    for item in items:
        if isinstance(item, tuple):
            parts.extend(ImagePart(image, item[0]) for image in next(encoded))
        elif parts and isinstance(parts[-1], TextPart):
            parts[-1] = TextPart(parts[-1].text + item)
        elif item:
            parts.append(TextPart(item))
    return parts


def _check_parts(spec: ModelSpec, parts: list[Part]) -> None:
    has_text = any(isinstance(p, TextPart) and p.text.strip() for p in parts)
    n_images = sum(isinstance(p, ImagePart) for p in parts)
    if not has_text and not n_images:
        raise PromptError(
            "The prompt is empty: write what to draw in the cell below %%banana, "
            "e.g. 'a lighthouse at dawn, watercolour'."
        )
    if spec.known and n_images > spec.max_input_images:
        raise ImageInputError(
            "images",
            f"{n_images} images given; {spec.id} takes at most {spec.max_input_images}"
            + (" (use -m flash for up to 14)." if spec.max_input_images < 14 else "."),
        )


def request_document(request: Request) -> dict[str, Any]:
    """The request as stored: text, image hashes (not bytes) and options."""
    parts: list[dict[str, Any]] = []
    for part in request.parts:
        if isinstance(part, TextPart):
            parts.append({"text": part.text})
        elif isinstance(part, ImagePart):
            image = part.image
            parts.append({
                "image_sha256": hashlib.sha256(image.data).hexdigest(),
                "mime_type": image.mime_type, "label": part.label,
                "width": image.width, "height": image.height,
            })  # fmt: skip
    doc: dict[str, Any] = {
        "model": request.model.id,
        "aspect": request.aspect,
        "size": request.size,
        "count": request.count,
        # Web search alone stays ``True``, and the options added later appear only when
        # set, so the keys of requests stored before them still match.
        "search": _search_doc(request.search),
        "thoughts": request.thoughts,
        "parts": parts,
    }
    if request.thinking:
        doc["thinking"] = request.thinking
    if request.output:
        doc["output"] = {"mime_type": request.output, "quality": request.quality}
    return doc


def _search_doc(kinds: tuple[str, ...]) -> bool | list[str]:
    return list(kinds) if "image" in kinds else bool(kinds)


def as_items(parts: Sequence[object]) -> list[Item]:
    """Python-API arguments -> items: strings are text, anything image-like is an image."""
    items: list[Item] = []
    for index, part in enumerate(parts):
        if isinstance(part, str) or _is_named(part):
            items.append(part)
        elif images.is_image_like(part):
            items.append((f"image{index + 1}", part))
        else:
            items.append(str(part))
    return items


def _is_named(part: object) -> bool:
    """A ``(name, value)`` pair: an image given under a name of the caller's choosing."""
    return isinstance(part, tuple) and len(part) == 2 and isinstance(part[0], str)
