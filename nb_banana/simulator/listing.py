"""The models the simulator knows: what ``models.list`` and ``models.get`` show, and which ids
``generateContent`` serves.

A client should trust the API's list over any table of its own, so the list has to be worth
testing against. It holds nb_banana's current image models (``current_models``: a shut-down
id is gone from it and answers 404, as on the API), one image model that nb_banana's table
lacks (``FUTURE_MODEL``: a client must cope with a model newer than itself), and two models
that draw nothing (a client must filter the list, not take it whole). Entries have the API's
``Model`` shape; pages and page tokens behave as the API's do.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from ..gemini.models import ModelSpec, current_models, unlisted_model
from .rejections import Rejection, invalid

FUTURE_MODEL = unlisted_model("gemini-4-flash-image", "Nano Banana 4 (simulated)")
FUTURE_DISPLAY_NAME = "Nano Banana 4 (simulated future model)"
DEFAULT_PAGE_SIZE = 50  # the API's, when pageSize is missing or 0
MAX_PAGE_SIZE = 1000  # the API's cap, whatever pageSize asks for
_GENERATE = "generateContent"
_BATCH = "batchGenerateContent"
_IMAGE_METHODS = (_GENERATE, "countTokens")
# The figures Google's list gives its Gemini models (the Gemini 3 image models' token limits
# are those of their model pages).
_IMAGE_TOKEN_LIMITS = (131_072, 32_768)
_SAMPLING = {"temperature": 1, "topP": 0.95, "topK": 64, "maxTemperature": 2}
_TOKEN_PREFIX = b"\n"  # a page token is a protobuf-encoded model name, as the API's look


@dataclass(frozen=True)
class ListedModel:
    """One entry of the model list; ``spec`` is ``None`` for a model that draws nothing."""

    id: str
    display_name: str
    description: str
    input_token_limit: int
    output_token_limit: int
    methods: tuple[str, ...]
    thinking: bool
    spec: ModelSpec | None

    def to_json(self) -> dict[str, Any]:
        """The API's ``Model`` resource (what ``_Model_from_mldev`` in the SDK reads)."""
        entry: dict[str, Any] = {
            "name": f"models/{self.id}",
            "version": "001",
            "displayName": self.display_name,
            "description": self.description,
            "inputTokenLimit": self.input_token_limit,
            "outputTokenLimit": self.output_token_limit,
            "supportedGenerationMethods": list(self.methods),
        }
        if self.id.startswith("gemini-"):
            entry.update(_SAMPLING)
        if self.thinking:  # protobuf JSON leaves out a false bool
            entry["thinking"] = True
        return entry


_TEXT_MODEL = ListedModel(
    id="gemini-3-flash",
    display_name="Gemini 3 Flash",
    description="A text model, listed so that clients filter the list; the nb_banana "
    "simulator does not answer for it.",
    input_token_limit=1_048_576,
    output_token_limit=65_536,
    methods=(_GENERATE, "countTokens", "createCachedContent", _BATCH),
    thinking=True,
    spec=None,
)
_IMAGEN_MODEL = ListedModel(
    id="imagen-4.0-generate-001",
    display_name="Imagen 4",
    description="Imagen 4 image generation: served through predict, not generateContent.",
    input_token_limit=480,
    output_token_limit=8192,
    methods=("predict",),
    thinking=False,
    spec=None,
)


def _image_entry(spec: ModelSpec, display_name: str) -> ListedModel:
    methods = _IMAGE_METHODS + ((_BATCH,) if spec.batch else ())
    released = f", released {spec.released}" if spec.released else ""
    return ListedModel(
        id=spec.id,
        display_name=display_name,
        description=f"{spec.name} ({spec.id}{released}): Gemini image generation and editing, "
        "simulated by nb_banana.",
        input_token_limit=_IMAGE_TOKEN_LIMITS[0],
        output_token_limit=_IMAGE_TOKEN_LIMITS[1],
        methods=methods,
        thinking=spec.thinking,
        spec=spec,
    )


def listed_models() -> tuple[ListedModel, ...]:
    """Every model the simulator lists today, in the order it lists them."""
    images = [_image_entry(spec, spec.name) for spec in current_models()]
    future = _image_entry(FUTURE_MODEL, FUTURE_DISPLAY_NAME)
    return (_TEXT_MODEL, *images, future, _IMAGEN_MODEL)


def _find(model_id: str) -> ListedModel | None:
    return next((entry for entry in listed_models() if entry.id == model_id), None)


def image_model(model_id: str, api_version: str) -> ModelSpec:
    """The spec of the image model a generateContent path names.

    An id that is not listed (a shut-down one included) or whose model has no
    generateContent gets the API's 404; a listed text model gets a 400, since the simulator
    only draws.
    """
    entry = _find(model_id)
    if entry is None or _GENERATE not in entry.methods:
        raise _not_found(model_id, api_version, _GENERATE)
    if entry.spec is None:
        drawing = ", ".join(e.id for e in listed_models() if e.spec is not None)
        raise invalid(
            f"{model_id} does not generate images, and the nb_banana simulator only draws: "
            f"use an image model ({drawing})."
        )
    return entry.spec


def check_batch_model(model_id: str, api_version: str) -> None:
    """Refuse a batch for a model that is not listed (a shut-down one included) or that does
    not list ``batchGenerateContent``, as the API refuses generateContent for one.

    A listed text model is accepted here: each of its batch's requests then fails as the
    same request to generateContent would.
    """
    entry = _find(model_id)
    if entry is None or _BATCH not in entry.methods:
        raise _not_found(model_id, api_version, _BATCH)


def _not_found(model_id: str, api_version: str, method: str) -> Rejection:
    return Rejection(
        404,
        f"models/{model_id} is not found for API version {api_version}, or is not "
        f"supported for {method}. Call ListModels to see the list of available "
        "models and their supported methods.",
    )


def get_model(model_id: str, api_version: str) -> dict[str, Any]:
    """``GET /{version}/models/{id}``: one entry, or the API's 404 for an unlisted id."""
    entry = _find(model_id)
    if entry is None:
        raise Rejection(404, f"Model is not found: models/{model_id} for api version {api_version}")
    return entry.to_json()


def list_page(size: str | None, page_token: str | None) -> dict[str, Any]:
    """``GET /{version}/models``: one page, and ``nextPageToken`` when more follow."""
    entries = listed_models()
    start = _page_start(page_token, entries) if page_token else 0
    end = start + page_size(size)
    page: dict[str, Any] = {"models": [entry.to_json() for entry in entries[start:end]]}
    if end < len(entries):
        page["nextPageToken"] = _token_after(entries[end - 1].id)
    return page


def page_size(value: str | None) -> int:
    """``pageSize`` as the API reads it: 0 or missing means 50, more than 1000 means 1000.

    The batch list reads it the same way (a guess, listed in docs/simulator.md).
    """
    if not value:
        return DEFAULT_PAGE_SIZE
    try:
        size = int(value)
    except ValueError:
        raise invalid(f"Invalid value at 'page_size' (TYPE_INT32), \"{value}\"") from None
    if size < 0:
        raise invalid("page_size must not be negative.")
    return min(size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def _token_after(model_id: str) -> str:
    """An opaque token naming the last model of a page (a protobuf string field, base64)."""
    name = f"models/{model_id}".encode()
    return base64.urlsafe_b64encode(_TOKEN_PREFIX + bytes([len(name)]) + name).decode()


def _page_start(token: str, entries: tuple[ListedModel, ...]) -> int:
    """Where the page after ``token`` starts; a token we did not issue is a 400."""
    try:
        raw = base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    name = raw[2:].decode(errors="replace") if raw.startswith(_TOKEN_PREFIX) else ""
    ids = [entry.id for entry in entries]
    if not name.startswith("models/") or name.removeprefix("models/") not in ids:
        raise invalid("Invalid page token.")
    return ids.index(name.removeprefix("models/")) + 1
