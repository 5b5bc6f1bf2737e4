"""Per-notebook defaults as traitlets, so ``%config Banana.model = "pro"`` is checked at once.

One ``Banana`` instance serves the magics, the panel and ``nb_banana.generate``; the
extension registers it with the shell, which is also how ``ipython_config.py`` reaches it
(``c.Banana.size = "2K"``).
"""

from __future__ import annotations

from typing import Any

from traitlets import Bool, Float, Int, TraitError, Unicode, default, validate
from traitlets.config import Configurable

from .models import ASPECT_RATIOS, DEFAULT_MODEL, IMAGE_SIZES, UnknownModel, resolve_model
from .options import normalise_aspect, normalise_size, normalise_thinking
from .vertex import BACKENDS, env_location, env_project, env_wants_vertex


class Banana(Configurable):
    """nb_banana's settings; each has a default that costs the least."""

    model = Unicode(
        DEFAULT_MODEL,
        help="Model id or alias (lite, flash, pro); the default is the cheapest current model.",
    ).tag(config=True)
    aspect = Unicode(
        "",
        help=f"Aspect ratio: one of {', '.join(ASPECT_RATIOS)}; empty (the default) sends "
        "none, so the model chooses: an edit keeps its picture's shape, a new picture is square.",
    ).tag(config=True)
    size = Unicode(
        "",
        help=f"Image size: {', '.join(IMAGE_SIZES)} (on the models that make it); empty (the "
        "default) sends none: the API's 1K.",
    ).tag(config=True)
    count = Int(1, help="Images per cell, requested concurrently.").tag(config=True)
    max_concurrency = Int(4, help="Calls in flight at once, across the whole kernel.").tag(
        config=True
    )
    rpm = Int(
        0, help="Requests per minute a --each run starts at most (0 = no limit): your quota."
    ).tag(config=True)
    timeout = Float(180.0, help="Seconds to wait for one reply before giving up.").tag(config=True)
    retries = Int(4, help="Extra attempts after a 429/5xx/timeout, with exponential backoff.").tag(
        config=True
    )
    retry_delay = Float(1.0, help="First backoff delay in seconds; it doubles each attempt.").tag(
        config=True
    )
    base_url = Unicode(
        "", help="Endpoint override; empty means the SDK's (GOOGLE_GEMINI_BASE_URL or Google's)."
    ).tag(config=True)
    backend = Unicode(
        help='Who serves the models: "gemini" (the Gemini Developer API, an API key) or '
        '"vertex" (Vertex AI on Google Cloud). The default follows GOOGLE_GENAI_USE_VERTEXAI, '
        "as the SDK does."
    ).tag(config=True)
    project = Unicode(
        help="Google Cloud project for Vertex AI; the default is GOOGLE_CLOUD_PROJECT, else "
        "the project your credentials name. Empty with a key set: express mode."
    ).tag(config=True)
    location = Unicode(
        help='Vertex AI location (region); the default is GOOGLE_CLOUD_LOCATION, else "global".'
    ).tag(config=True)
    store = Unicode(
        ".nb_banana", help="Store folder (beside the notebook by default); 'user' for one per user."
    ).tag(config=True)
    cache = Bool(True, help="Answer an identical request from the store, with no API call.").tag(
        config=True
    )
    budget_usd = Float(0.0, help="Refuse calls that would take the store's spending past this "
                       "many USD (0 = no limit).").tag(config=True)  # fmt: skip
    preview_px = Int(1024, help="Longest side of the preview embedded in the notebook.").tag(
        config=True
    )
    thoughts = Bool(False, help="Show the model's thought summaries (thinking models).").tag(
        config=True
    )
    thinking = Unicode(
        "", help="Thinking level: minimal or high (models that take it); empty = the model's."
    ).tag(config=True)

    # Read when first asked for, from the same environment variables ``genai.Client()``
    # reads: set them before the kernel starts (or use %config).
    @default("backend")
    def _backend_from_env(self) -> str:
        return "vertex" if env_wants_vertex() else "gemini"

    @default("project")
    def _project_from_env(self) -> str:
        return env_project()

    @default("location")
    def _location_from_env(self) -> str:
        return env_location()

    @validate("backend")
    def _check_backend(self, proposal: dict) -> str:
        value = proposal["value"].strip().lower()
        if value not in BACKENDS:
            raise TraitError(f"backend must be one of {', '.join(BACKENDS)}, not {value!r}.")
        return value

    @validate("location")
    def _check_location(self, proposal: dict) -> str:
        return proposal["value"].strip() or env_location()

    @validate("model")
    def _check_model(self, proposal: dict) -> str:
        try:
            return resolve_model(proposal["value"]).id
        except UnknownModel as exc:
            raise TraitError(str(exc)) from None

    @validate("aspect")
    def _check_aspect(self, proposal: dict) -> str:
        return _as_trait_error(normalise_aspect, proposal["value"])

    @validate("size")
    def _check_size(self, proposal: dict) -> str:
        return _as_trait_error(normalise_size, proposal["value"])

    @validate("thinking")
    def _check_thinking(self, proposal: dict) -> str:
        return _as_trait_error(normalise_thinking, proposal["value"])

    @validate("count", "max_concurrency")
    def _check_positive(self, proposal: dict) -> int:
        value = proposal["value"]
        if not 1 <= value <= 16:
            raise TraitError(f"{proposal['trait'].name} must be between 1 and 16, not {value}.")
        return value

    @validate("timeout", "retry_delay")
    def _check_seconds(self, proposal: dict) -> float:
        value = proposal["value"]
        if value <= 0:
            raise TraitError(f"{proposal['trait'].name} must be a positive number of seconds.")
        return value

    @validate("budget_usd")
    def _check_budget(self, proposal: dict) -> float:
        if proposal["value"] < 0:
            raise TraitError("budget_usd must be 0 (no limit) or a positive amount of USD.")
        return proposal["value"]

    @validate("preview_px")
    def _check_preview(self, proposal: dict) -> int:
        if not 128 <= proposal["value"] <= 4096:
            raise TraitError("preview_px must be between 128 and 4096 pixels.")
        return proposal["value"]

    @validate("rpm")
    def _check_rpm(self, proposal: dict) -> int:
        if proposal["value"] < 0:
            raise TraitError("rpm must be 0 (no limit) or a number of requests per minute.")
        return proposal["value"]

    @validate("retries")
    def _check_retries(self, proposal: dict) -> int:
        value = proposal["value"]
        if not 0 <= value <= 10:
            raise TraitError(f"retries must be between 0 and 10, not {value}.")
        return value


def _as_trait_error(normalise, value: str) -> str:
    try:
        return normalise(value)
    except ValueError as exc:
        raise TraitError(str(exc)) from None


def register(shell: Any, banana: Banana, replacing: Banana | None = None) -> None:
    """Make ``%config Banana.…`` reach ``banana`` (and no longer ``replacing``)."""
    if replacing is not None and replacing in shell.configurables:
        shell.configurables.remove(replacing)
    banana.parent = shell
    if banana not in shell.configurables:
        shell.configurables.append(banana)
    banana.update_config(shell.config)
