"""The API's own list of models, asked once per kernel and endpoint, set beside the table.

The table (``models.py``) is what nb_banana knows; ``client.models.list()`` is what the
service says exists today. Comparing the two shows the table's models the API no longer
lists (retired early, or a typo in the table) and the image models it lists that the table
does not know yet (usable at once by full id). The list is fetched in the background on
the engine's loop, so neither ``%banana models`` nor the panel waits long for it.
"""

from __future__ import annotations

import concurrent.futures
import threading
from dataclasses import dataclass

from ..context import context, engine, settings
from ..errors import NoKeyError
from ..gemini import secrets
from ..gemini.models import ModelSpec, current_models, resolve_model
from ..gemini.vertex import VertexSetupError
from . import offline

LIST_TIMEOUT = 5.0  # seconds: the list is a courtesy, never worth a long wait


@dataclass(frozen=True)
class ListedModel:
    """An image model as the API lists it."""

    id: str
    name: str


@dataclass(frozen=True)
class Catalog:
    """The image models one endpoint lists, or why it could not be asked."""

    endpoint: str
    listed: tuple[ListedModel, ...] = ()
    error: str = ""

    def unlisted(self) -> list[ModelSpec]:
        """The table's current models that the API does not list."""
        ids = {m.id for m in self.listed}
        return [spec for spec in current_models() if spec.id not in ids]

    def unknown(self) -> list[ListedModel]:
        """Image models the API lists that the table does not know."""
        return [m for m in self.listed if not resolve_model(m.id).known]


_lock = threading.Lock()


def _asked() -> dict[str, concurrent.futures.Future[Catalog]]:
    """This kernel's lists, by endpoint (a restart asks again)."""
    return context().catalogs


def ask() -> concurrent.futures.Future[Catalog] | None:
    """Start asking the current endpoint for its list (once per kernel); ``None`` with no key.

    A failed answer is not kept, so the next ``ask`` tries again (offline, then online).
    """
    try:
        client = offline.current_client()
    except NoKeyError:
        return None
    except VertexSetupError as exc:  # no credentials: say so where the list would be
        unreachable: concurrent.futures.Future[Catalog] = concurrent.futures.Future()
        unreachable.set_result(Catalog("", error=str(exc)))
        return unreachable
    where = _endpoint()
    with _lock:
        known = _asked().get(where)
        if known is None or (known.done() and known.result().error):
            known = _asked()[where] = engine().submit(_fetch(client, where))
        return known


def wait(timeout: float = LIST_TIMEOUT) -> Catalog | None:
    """The current endpoint's list, waiting at most ``timeout``; ``None`` with no key."""
    future = ask()
    if future is None:
        return None
    try:
        return future.result(timeout=timeout)
    except concurrent.futures.TimeoutError:
        return Catalog("", error=f"the API did not answer within {timeout:g} s")


def known() -> Catalog | None:
    """The list if it has already come, without waiting or asking (for the panel)."""
    with _lock:
        future = _asked().get(_endpoint())
    if future is None or not future.done() or future.cancelled():
        return None
    return future.result()


async def _fetch(client: object, where: str) -> Catalog:
    from google.genai import types

    config = types.ListModelsConfig(
        page_size=100,
        http_options=types.HttpOptions(
            timeout=int(LIST_TIMEOUT * 1000), retry_options=types.HttpRetryOptions(attempts=1)
        ),
    )
    try:
        pager = await client.aio.models.list(config=config)  # type: ignore[attr-defined]
        listed = [_listed(model) async for model in pager if _draws_images(model)]
    except Exception as exc:
        said = secrets.redact(" ".join(str(exc).split()))[:160]
        return Catalog(where, error=f"{type(exc).__name__}: {said}")
    return Catalog(where, tuple(listed))


def _draws_images(model: object) -> bool:
    """A Gemini model that answers generateContent with images: ``gemini-…-image…``.
    Vertex's publisher models name no methods (``supported_actions`` is unset there)."""
    model_id = _id(model)
    actions = getattr(model, "supported_actions", None) or []
    vertex = (getattr(model, "name", None) or "").startswith("publishers/")
    serves = vertex or "generateContent" in actions
    return model_id.startswith("gemini-") and "image" in model_id and serves


def _listed(model: object) -> ListedModel:
    return ListedModel(_id(model), getattr(model, "display_name", None) or _id(model))


def _id(model: object) -> str:
    name = getattr(model, "name", None) or ""
    return name.removeprefix("models/").removeprefix("publishers/google/models/")


def _endpoint() -> str:
    """Where the calls go now: the key the lists are kept under."""
    from ..gemini.engine import endpoint  # loads the SDK: not at %load_ext

    target = offline.vertex_target()
    return endpoint(settings().base_url) + (f" {target.ident}" if target else "")
