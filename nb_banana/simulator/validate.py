"""The rules a generateContent request must pass, and what a passing one asks for.

``read_request`` takes a body already through ``schema.normalise`` (camelCase keys, types
checked) and either raises the ``Rejection`` the real API would send or returns an
``ImageRequest``: the few facts the reply is built from. The limits come from
``nb_banana.gemini.models``, the same table the extension checks before sending, so a request
the extension lets through and the simulator refuses shows a disagreement between the two.
Messages copy the API's wording where it is known; docs/simulator.md lists the guesses.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from dataclasses import dataclass
from typing import Any

from PIL import Image

from ..gemini.models import INPUT_MIME_TYPES, MAX_INPUT_IMAGE_BYTES, ModelSpec
from . import signatures
from .rejections import field_violation, invalid
from .schema import PART_DATA_FIELDS, decode_base64, snake

SQUARE = "1:1"
DEFAULT_SIZE = "1K"
_MODALITIES = ("TEXT", "IMAGE")
_OTHER_MODALITIES = ("AUDIO", "MODALITY_UNSPECIFIED")
# google-genai 3.6.1's ThinkingLevel names; which of them a model takes is in its spec.
_THINKING_LEVELS = ("THINKING_LEVEL_UNSPECIFIED", "MINIMAL", "LOW", "MEDIUM", "HIGH", "XHIGH")
_SEARCH_TYPES = (("web", "webSearch"), ("image", "imageSearch"))
_ORIENTATION = 0x0112  # the EXIF tag; values 5 to 8 turn the picture a quarter
_TURNED = (5, 6, 7, 8)


@dataclass(frozen=True)
class ImageRequest:
    """A valid request, reduced to what the reply depends on (and nothing else, for determinism)."""

    model: ModelSpec
    aspect: str  # as asked, or the model's choice (``aspect_chosen``)
    aspect_chosen: bool  # no aspectRatio was sent: the model chose the shape
    size: str
    modalities: frozenset[str]
    include_thoughts: bool
    thinking_level: str | None  # "MINIMAL", "HIGH", ...; None for a model whose level is fixed
    search: frozenset[str]  # the Google Search kinds asked for ("web", "image"); empty: none
    turn: int  # how many user contents the conversation has, this one included
    prompt: str  # the latest user turn: its text, with "[image N]" where its images sit
    inputs: tuple[bytes, ...]  # the images of the latest user turn, in order
    previous: bytes | None  # the last image the model sent before the latest user turn
    prompt_chars: int
    prompt_images: int
    fingerprint: bytes


def read_request(body: dict[str, Any], spec: ModelSpec, api_version: str) -> ImageRequest:
    """Check ``body`` (normalised) against every rule for ``spec``; the request it makes."""
    contents = body.get("contents") or []
    if not contents:
        raise field_violation("contents", "contents is not specified")
    roles = [_role(content, i) for i, content in enumerate(contents)]
    images = [_content_images(content, i) for i, content in enumerate(contents)]
    config = body.get("generationConfig", {})
    modalities = _modalities(config.get("responseModalities") or list(_MODALITIES), api_version)
    asked_aspect, size = _image_config(config.get("imageConfig", {}), spec)
    thinking_config = config.get("thinkingConfig", {})
    include_thoughts = _include_thoughts(thinking_config, spec)
    thinking_level = _thinking_level(thinking_config, spec, api_version)
    search = _search(body.get("tools", []), spec)

    latest = max(i for i, role in enumerate(roles) if role == "user") if "user" in roles else -1
    inputs = tuple(images[latest]) if latest >= 0 else ()
    if len(inputs) > spec.max_input_images:
        raise invalid(
            f"Too many input images: the latest user turn has {len(inputs)}, and {spec.id} "
            f"accepts at most {spec.max_input_images}."
        )
    if spec.signatures:
        _check_signatures(contents, roles, spec)
    earlier_model_images = [
        image for i in range(max(latest, 0)) if roles[i] == "model" for image in images[i]
    ]
    earlier_images = [image for found in images[: max(latest, 0)] for image in found]
    shape_source = inputs[0] if inputs else (earlier_images[-1] if earlier_images else None)
    return ImageRequest(
        model=spec,
        aspect=asked_aspect or _model_choice(shape_source, spec),
        aspect_chosen=asked_aspect is None,
        size=size,
        modalities=modalities,
        include_thoughts=include_thoughts,
        thinking_level=thinking_level,
        search=search,
        turn=roles.count("user"),
        prompt=_prompt(contents[latest]) if latest >= 0 else "",
        inputs=inputs,
        previous=earlier_model_images[-1] if earlier_model_images else None,
        prompt_chars=sum(len(text) for content in contents for text in _texts(content)),
        prompt_images=sum(len(found) for found in images),
        fingerprint=hashlib.sha256(json.dumps([spec.id, body], sort_keys=True).encode()).digest(),
    )


def _role(content: dict[str, Any], index: int) -> str:
    """``user`` or ``model``; an unset role is a user turn, as in single-turn requests."""
    role = content.get("role") or "user"
    if role not in ("user", "model"):
        raise invalid("Please use a valid role: user, model.")
    if not content.get("parts"):
        raise field_violation(f"contents[{index}].parts", "contents.parts must not be empty.")
    return role


def _content_images(content: dict[str, Any], index: int) -> list[bytes]:
    """The decoded inline images of one content, after checking each of its parts."""
    found = []
    for p, part in enumerate(content["parts"]):
        path = f"contents[{index}].parts[{p}]"
        data_fields = [name for name in PART_DATA_FIELDS if name in part]
        if not data_fields:
            raise field_violation(
                f"{path}.data", "required oneof field 'data' must have one initialized field"
            )
        if len(data_fields) > 1:
            raise invalid(
                f"Invalid JSON payload received. Oneof field 'data' is already set. "
                f"Cannot set '{snake(data_fields[1])}' at '{path}'."
            )
        if "inlineData" in part:
            found.append(_inline_image(part["inlineData"], f"{path}.inline_data"))
    return found


def _inline_image(blob: dict[str, Any], path: str) -> bytes:
    mime_type = blob.get("mimeType", "")
    if not mime_type:
        raise field_violation(f"{path}.mime_type", "mime_type must be set for inline data.")
    if mime_type not in INPUT_MIME_TYPES:
        raise invalid(f"Unsupported MIME type: {mime_type}")
    data = decode_base64(blob.get("data", "")) or b""
    if len(data) > MAX_INPUT_IMAGE_BYTES:
        raise invalid(
            f"Inline image at '{path}' is {len(data) / 2**20:.1f} MB; the limit is "
            f"{MAX_INPUT_IMAGE_BYTES / 2**20:g} MB per image."
        )
    try:
        Image.open(io.BytesIO(data)).verify()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise invalid(
            "Unable to process input image. Please retry or report in "
            "https://developers.generativeai.google/guide/troubleshooting"
        ) from exc
    return data


def _prompt(content: dict[str, Any]) -> str:
    """The latest turn as a person would read it: text, and each image where it was sent."""
    pieces: list[str] = []
    images = 0
    for part in content["parts"]:
        if "inlineData" in part:
            images += 1
            pieces.append(f"[image {images}]")
        elif "text" in part and not part.get("thought"):
            pieces.append(part["text"])
    joined = ""
    for piece in pieces:
        glue = "" if not joined or joined[-1].isspace() or piece[:1] in " ,.;:!?)" else " "
        joined += glue + piece
    return " ".join(joined.split())


def _texts(content: dict[str, Any]) -> list[str]:
    """The answer text of a content: its text parts that are not thoughts."""
    return [p["text"] for p in content["parts"] if "text" in p and not p.get("thought")]


def _modalities(values: list[str], api_version: str) -> frozenset[str]:
    """The requested output kinds; enum names are read case-insensitively, as the API does."""
    chosen = set()
    for i, value in enumerate(values):
        name = value.upper()
        if name in _OTHER_MODALITIES:
            raise invalid(
                f"The requested combination of response modalities ({name}) is not supported "
                "by the model."
            )
        if name not in _MODALITIES:
            raise invalid(
                f"Invalid value at 'generation_config.response_modalities[{i}]' "
                f"(type.googleapis.com/google.ai.generativelanguage.{api_version}."
                f'GenerationConfig.Modality), "{value}"'
            )
        chosen.add(name)
    return frozenset(chosen)


def _image_config(image_config: dict[str, Any], spec: ModelSpec) -> tuple[str | None, str]:
    """The aspect ratio asked for (``None``: the model chooses) and the size (1K unless
    asked: Google's documented default)."""
    aspect = image_config.get("aspectRatio")
    if aspect is not None and aspect not in spec.aspects:
        listed = ", ".join(f"'{ratio}'" for ratio in spec.aspects[:-1])
        raise field_violation(
            "generation_config.image_config.aspect_ratio",
            f"aspect_ratio must be one of {listed}, or '{spec.aspects[-1]}'.",
        )
    size = image_config.get("imageSize", DEFAULT_SIZE)
    if size not in spec.sizes:
        listed = ", ".join(f"'{s}'" for s in spec.sizes)
        hint = " Use an upper-case 'K' (e.g. '1K', not '1k')." if size.upper() in spec.sizes else ""
        raise field_violation(
            "generation_config.image_config.image_size",
            f"image_size '{size}' is not supported by {spec.id}; use one of {listed}.{hint}",
        )
    return aspect, size


def _model_choice(source: bytes | None, spec: ModelSpec) -> str:
    """The shape the model picks when no ratio is asked for: an edit keeps its source
    picture's nearest ratio among the model's own (by the table's pixel sizes), and a
    picture from words alone is square (Google's docs; REAL_REPLIES.md, "Who picks the
    shape"). ``source`` is the latest user turn's first image, else the history's last."""
    if source is None:
        return SQUARE
    with Image.open(io.BytesIO(source)) as picture:
        width, height = picture.size
        if picture.getexif().get(_ORIENTATION) in _TURNED:  # shown turned a quarter
            width, height = height, width
    if not width or not height:
        return SQUARE
    wanted = math.log(width / height)

    def distance(aspect: str) -> float:
        w, h = spec.pixels(aspect, DEFAULT_SIZE)
        return abs(math.log(w / h) - wanted)

    return min(spec.aspects, key=distance)


def _include_thoughts(thinking_config: dict[str, Any], spec: ModelSpec) -> bool:
    wanted = bool(thinking_config.get("includeThoughts", False))
    if wanted and not spec.thinking:
        raise invalid(f"Thinking is not supported by {spec.id}: remove include_thoughts.")
    return wanted


def _thinking_level(
    thinking_config: dict[str, Any], spec: ModelSpec, api_version: str
) -> str | None:
    """The level the model thinks at: as asked (an enum name, any case), else the lowest it
    takes; ``None`` for a model whose level cannot be set, which refuses any level."""
    value = thinking_config.get("thinkingLevel", "THINKING_LEVEL_UNSPECIFIED")
    name = value.upper()
    if name not in _THINKING_LEVELS:
        raise invalid(
            "Invalid value at 'generation_config.thinking_config.thinking_level' "
            f"(type.googleapis.com/google.ai.generativelanguage.{api_version}."
            f'ThinkingConfig.ThinkingLevel), "{value}"'
        )
    allowed = [level.upper() for level in spec.thinking_levels]
    if name == "THINKING_LEVEL_UNSPECIFIED":
        return allowed[0] if allowed else None
    if not allowed:
        raise invalid("Thinking level is not supported for this model.")
    if name not in allowed:
        raise invalid(
            f"Thinking level {name} is not supported by {spec.id}; use one of {', '.join(allowed)}."
        )
    return name


def _search(tools: list[dict[str, Any]], spec: ModelSpec) -> frozenset[str]:
    """The Google Search kinds grounding uses; the image models take no other tool."""
    kinds: set[str] = set()
    for tool in tools:
        for name, value in tool.items():
            if name == "googleSearchRetrieval":
                raise invalid(
                    "google_search_retrieval is not supported. Please use google_search "
                    "tool instead."
                )
            if name != "googleSearch":
                raise invalid(f"Tool {snake(name)} is not supported by {spec.id}.")
            kinds |= _search_kinds(value, spec)
    return frozenset(kinds)


def _search_kinds(google_search: dict[str, Any], spec: ModelSpec) -> set[str]:
    """What one ``googleSearch`` tool asks for: web search unless ``searchTypes`` says
    otherwise (the SDK's GoogleSearch: "If not set, web search is enabled by default")."""
    if not spec.search:
        raise invalid("Search Grounding is not supported.")
    chosen = google_search.get("searchTypes", {})
    kinds = {kind for kind, field in _SEARCH_TYPES if field in chosen} or {"web"}
    refused = sorted(kinds - set(spec.search))
    if refused:
        kind = refused[0]
        raise invalid(
            f"{kind.capitalize()} search is not supported by {spec.id}: it grounds with "
            f"{' and '.join(spec.search)} search only. Remove search_types.{kind}_search."
        )
    return kinds


def _check_signatures(contents: list[dict[str, Any]], roles: list[str], spec: ModelSpec) -> None:
    """Every model image must carry a signature, and every signature must be one we issued."""
    for c, (content, role) in enumerate(zip(contents, roles, strict=True)):
        if role != "model":
            continue
        for p, part in enumerate(content["parts"]):
            signed = _signed_bytes(part)
            signature = part.get("thoughtSignature")
            if signature is not None:
                raw = decode_base64(signature) or b""
                if signed is None or not signatures.is_genuine(spec.id, signed, raw):
                    raise invalid("Corrupted thought signature.")
            elif "inlineData" in part:
                raise invalid(
                    f"Image part is missing a thought_signature in content position {c + 1}, "
                    f"part position {p + 1}. Please make sure to pass back the parts exactly "
                    "as they were received, with their thought signatures."
                )


def _signed_bytes(part: dict[str, Any]) -> bytes | None:
    """The bytes a signature on this part covers: the image, or the UTF-8 text."""
    if "inlineData" in part:
        return decode_base64(part["inlineData"].get("data", "")) or b""
    if "text" in part:
        return part["text"].encode()
    return None
