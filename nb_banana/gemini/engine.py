"""One background event loop and one long-lived SDK client: where calls actually run.

Jupyter's kernel already runs an event loop in the main thread, so a magic cannot
``asyncio.run`` there. Calls run instead on a daemon loop thread: the main thread waits
(updating the status line, catching the interrupt button) and the panel gets a callback.
Keeping one ``genai.Client`` per (key, endpoint) alive avoids the SDK's "client has been
closed" failure and reuses its connection pool across cells.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import math
import os
import threading
import time
import weakref
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from google import genai
from google.genai import errors as sdk_errors
from google.genai import types

from ..errors import ApiError, BananaError, CancelledError, NoImageError, NoKeyError, TransientError
from . import secrets, stream, wire
from . import vertex as _vertex
from .models import UnknownModel, resolve_model
from .request import Request
from .vertex import Target

T = TypeVar("T")
DEFAULT_ENDPOINT = "https://generativelanguage.googleapis.com"


class Engine:
    """Owns the loop thread, the SDK clients and the kernel-wide limit on calls in flight."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        # (key's hash, base URL, Vertex target, ADC file) -> the client and whose it is.
        self._clients: dict[tuple[str, str, Target | None, str], tuple[genai.Client, str]] = {}
        self._adc_projects: dict[str, str] = {}  # ADC file ("" for gcloud's) -> its project
        self._limit: tuple[int, asyncio.Semaphore] | None = None
        # The task behind each future, once it has started (what an interrupt cancels).
        self._tasks: weakref.WeakKeyDictionary[concurrent.futures.Future, list[asyncio.Task]] = (
            weakref.WeakKeyDictionary()
        )

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=self._loop.run_forever, name="nb_banana-engine", daemon=True
                )
                thread.start()
            return self._loop

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run ``coro`` on the loop thread; ``wait`` can later stop it at its next ``await``."""
        started: list[asyncio.Task] = []

        async def tracked() -> T:
            started.append(asyncio.current_task())  # type: ignore[arg-type]
            return await coro

        future = asyncio.run_coroutine_threadsafe(tracked(), self.loop())
        with self._lock:
            self._tasks[future] = started
        return future

    def wait(
        self,
        future: concurrent.futures.Future[T],
        on_tick: Callable[[float], None] | None = None,
        tick: float = 0.5,
        wake: threading.Event | None = None,
    ) -> T:
        """Block until done; Ctrl-C or the kernel's interrupt cancels the call cleanly.

        ``on_tick`` runs every ``tick`` seconds, and at once whenever ``wake`` is set (a
        streamed call's new chunk), so a live display follows the stream without delay.
        """
        start = time.perf_counter()
        if wake is not None:
            future.add_done_callback(lambda _: wake.set())
        try:
            while True:
                if wake is not None:
                    if wake.wait(tick):
                        wake.clear()  # woken: wait for the next chunk, not spin on this one
                    if future.done():
                        return future.result()
                    if on_tick:
                        on_tick(time.perf_counter() - start)
                    continue
                try:
                    return future.result(timeout=tick)
                except concurrent.futures.TimeoutError:
                    if on_tick:
                        on_tick(time.perf_counter() - start)
        except KeyboardInterrupt:
            return self._interrupt(future)
        except concurrent.futures.CancelledError:
            raise CancelledError() from None

    def _interrupt(self, future: concurrent.futures.Future[T]) -> T:
        """Cancel the call where it awaits, and report what really happened."""
        self.cancel(future)
        try:
            return future.result(timeout=1.0)
        except concurrent.futures.CancelledError:
            raise CancelledError() from None
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise CancelledError() from None

    def cancel(self, future: concurrent.futures.Future[Any]) -> None:
        """Stop the call at its next ``await``; returns at once (wait on ``future``).

        Cancelling the task (not just the future) means a call that had already finished
        when the interrupt came still returns its result, instead of being reported as
        cancelled while its chat turn was recorded.
        """
        with self._lock:
            started = self._tasks.get(future, [])

        def stop() -> None:  # on the loop thread, where ``started`` is up to date
            if started:
                started[0].cancel()
            else:
                future.cancel()

        self.loop().call_soon_threadsafe(stop)

    def close(self) -> None:
        """Stop the loop thread (a restart's old engine); calls still in flight end."""
        with self._lock:
            loop, self._loop = self._loop, None
        if loop is not None:
            loop.call_soon_threadsafe(loop.stop)

    def client(self, key: str | None, base_url: str, vertex: Target | None = None) -> genai.Client:
        """The shared client for this key, endpoint and backend (the key itself is never a
        dict key). On Vertex (``vertex``) a project's client authorises with the ADC, which
        the client keeps and refreshes; express mode with the key."""
        if vertex is not None and not vertex.express:
            key = None
        elif not key:
            raise NoKeyError()
        ident = _ident(key, base_url, vertex)
        with self._lock:
            if ident not in self._clients:
                secrets.guard_logging()
                self._clients[ident] = _new_client(key, base_url, vertex)
            return self._clients[ident][0]

    def adc_project(self) -> str:
        """The project the ADC name, found once per credentials file (finding it may run
        gcloud, which takes a second): for Vertex with no ``Banana.project``."""
        file = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS", "")
        with self._lock:
            known = self._adc_projects.get(file)
        if known is None:
            known = _vertex.credentials("")[1]
            with self._lock:
                self._adc_projects[file] = known
        return known

    def account(self, base_url: str, vertex: Target) -> str:
        """Whose credentials a Vertex project's calls use (an email; never a token)."""
        self.client(None, base_url, vertex)
        with self._lock:
            return self._clients[_ident(None, base_url, vertex)][1]

    def semaphore(self, limit: int) -> asyncio.Semaphore:
        """The kernel-wide cap on calls in flight; must be called on the loop thread."""
        if self._limit is None or self._limit[0] != limit:
            self._limit = (limit, asyncio.Semaphore(limit))
        return self._limit[1]


def _ident(
    key: str | None, base_url: str, vertex: Target | None
) -> tuple[str, str, Target | None, str]:
    """A client's place in ``Engine._clients``: the key's hash, never the key; with ADC,
    the credentials file, so pointing GOOGLE_APPLICATION_CREDENTIALS elsewhere is heard."""
    adc = "" if key else os.environ.get("GOOGLE_APPLICATION_CREDENTIALS", "")
    return hashlib.sha256((key or "").encode()).hexdigest(), base_url, vertex, adc


def _new_client(key: str | None, base_url: str, vertex: Target | None) -> tuple[genai.Client, str]:
    """A client and the account it acts as ("" for an API key)."""
    options = types.HttpOptions(base_url=base_url) if base_url else None
    if vertex is None:
        return genai.Client(api_key=key, http_options=options), ""
    if vertex.express:
        return genai.Client(vertexai=True, api_key=key, http_options=options), ""
    # Project and location are always passed: from the environment alone the SDK would
    # drop them under a custom base URL and send no credentials.
    found, project = _vertex.credentials(vertex.project)
    client = genai.Client(
        vertexai=True,
        credentials=found,
        project=project,
        location=vertex.location,
        http_options=options,
    )
    return client, _vertex.account(found)


def endpoint(base_url: str, vertex: Target | None = None) -> str:
    """Where calls go, as the SDK will decide it (for messages and dry runs)."""
    if base_url:
        return base_url
    if vertex is None:
        return os.environ.get("GOOGLE_GEMINI_BASE_URL") or DEFAULT_ENDPOINT
    regional = vertex.location not in ("", _vertex.DEFAULT_LOCATION) and not vertex.express
    host = f"{vertex.location}-aiplatform" if regional else "aiplatform"
    return os.environ.get("GOOGLE_VERTEX_BASE_URL") or f"https://{host}.googleapis.com"


async def run_samples(
    client: genai.Client,
    request: Request,
    history: Sequence[types.Content],
    config: types.GenerateContentConfig,
    limit: asyncio.Semaphore,
    failure_context: dict[str, Any],
) -> list[wire.Reply | BananaError]:
    """Send ``request.count`` identical calls concurrently; each yields a reply or an error."""
    contents = wire.contents(request, history)

    async def one() -> wire.Reply:
        async with limit:
            try:
                response = await client.aio.models.generate_content(
                    model=request.model.id, contents=contents, config=config
                )
            except Exception as exc:
                error = translate(exc, model_id=request.model.id, **failure_context)
                raise secrets.scrub(error) from secrets.scrub(exc, frames=False)
        return wire.parse_reply(response)

    tasks = [asyncio.ensure_future(one()) for _ in range(request.count)]
    try:
        done = await asyncio.gather(*tasks, return_exceptions=True)
    except asyncio.CancelledError:
        for task in tasks:
            task.cancel()
        raise
    results: list[wire.Reply | BananaError] = []
    for item in done:
        if isinstance(item, wire.Reply | BananaError):
            results.append(item)
        elif isinstance(item, BaseException):
            raise item
    return results


async def run_stream(
    client: genai.Client,
    request: Request,
    history: Sequence[types.Content],
    config: types.GenerateContentConfig,
    limit: asyncio.Semaphore,
    failure_context: dict[str, Any],
    watch: stream.Watch,
) -> list[wire.Reply | BananaError]:
    """One call as a stream (``generate_content_stream``): each chunk is put together as it
    arrives and its glimpse posted to ``watch``; the whole is the same one-sample list
    ``run_samples`` gives.

    A stream that breaks (the connection cut, a ``{"error": …}`` event, no finish reason
    before the end) is an error, never a partial answer, and is not retried: the SDK
    retries only before the stream begins, and the thoughts already shown would be
    followed by another call's (docs/reliability.md, "Streaming").
    """
    contents = wire.contents(request, history)
    assembly = stream.Assembly()
    async with limit:
        try:
            chunks = await client.aio.models.generate_content_stream(
                model=request.model.id, contents=contents, config=config
            )
            try:
                async for chunk in chunks:
                    watch.post(assembly.add(chunk))
            finally:  # an interrupt mid-stream closes the connection now, not at collection
                await chunks.aclose()
        except Exception as exc:
            error = translate(exc, model_id=request.model.id, **failure_context)
            raise secrets.scrub(_mid_stream(error, assembly)) from secrets.scrub(exc, frames=False)
    if assembly.finish is None and assembly.chunks:
        raise TransientError(
            f"The stream ended after {assembly.chunks} chunk(s), before the model finished: "
            "nothing was kept; re-run the cell."
        )
    return [assembly.reply()]


def _mid_stream(error: BananaError, assembly: stream.Assembly) -> BananaError:
    """An error after chunks had arrived says so: what was shown is not kept."""
    if not assembly.chunks:
        return error
    said = f"The stream broke after {assembly.chunks} chunk(s) and nothing was kept. "
    error.args = (said + str(error.args[0]), *error.args[1:])
    return error


def translate(
    exc: Exception,
    *,
    model_id: str,
    endpoint: str,
    timeout: float,
    attempts: int,
    vertex: Target | None = None,
) -> BananaError:
    """Turn an SDK or transport exception into the one line a user should read."""
    tried = f" after {attempts} attempts" if attempts > 1 else ""
    if isinstance(exc, sdk_errors.APIError):
        if vertex is not None:
            return _vertex_error(exc, model_id, vertex) or _api_error(exc, model_id, tried)
        return _api_error(exc, model_id, tried)
    name = type(exc).__name__
    if name == "RefreshError":  # google-auth could not get a token for the ADC
        said = " ".join(str(exc.args[0] if exc.args else exc).split())[:160]
        return ApiError(
            f"Google Cloud refused to give the credentials a token ({said}): run "
            f"`{_vertex.LOGIN}` again (or check GOOGLE_APPLICATION_CREDENTIALS)."
        )
    if "Timeout" in name:
        return TransientError(
            f"No reply within {timeout:g} s{tried}: re-run the cell, or raise the limit with "
            f"%config Banana.timeout = {timeout * 2:g}."
        )
    if name == "ConnectError":
        return TransientError(
            f"Could not connect to {endpoint}{tried}: check the network (or "
            "GOOGLE_GEMINI_BASE_URL); `%banana offline` works without one."
        )
    if name in ("RemoteProtocolError", "ReadError", "WriteError", "NetworkError"):
        return TransientError(
            f"The connection to {endpoint} dropped in the middle of the reply: re-run the cell."
        )
    if name == "UnknownApiResponseError" or isinstance(exc, ValueError):
        return NoImageError(
            "The API sent a reply that could not be read (not valid JSON): re-run the cell.",
            "MALFORMED",
        )
    return ApiError(f"The call failed with {name}: {exc}. `%banana error` shows the details.")


def _api_error(exc: sdk_errors.APIError, model_id: str, tried: str) -> BananaError:
    code, status = exc.code, exc.status or ""
    said = " ".join(str(exc.message or "").split()).rstrip(".")
    label = f"{code} {status}".strip()
    if code == 429:
        seconds = _retry_seconds(exc)
        wait = f" {seconds:g} s (the server asked)" if seconds is not None else " a minute"
        return TransientError(
            f"Rate limit reached ({label}){tried}: wait{wait} and re-run, or lower -n / "
            "%config Banana.max_concurrency.",
            code,
            status,
            retry_after=seconds,
        )
    if code is not None and code >= 500:
        return TransientError(
            f"The Gemini service failed ({label}){tried}; this is usually brief: re-run the cell "
            "in a minute.",
            code,
            status,
        )
    if code == 404:
        return ApiError(_not_found(model_id, label), code, status)
    if code in (401, 403) or "api key" in said.lower():
        return ApiError(
            f"The API refused the key ({label}{f': {said}.' if said else ''}): check "
            "GEMINI_API_KEY or run `%banana key` again.",
            code,
            status,
        )
    return ApiError(
        f"The API rejected the request ({label}){f': {said}' if said else ''}. Check the "
        "options and images.",
        code,
        status,
    )


def _vertex_error(exc: sdk_errors.APIError, model_id: str, vertex: Target) -> ApiError | None:
    """Vertex AI's own refusals (credentials, project, API, location), each as the one
    line naming its fix; ``None`` for the errors both backends share."""
    code, status = exc.code, exc.status or ""
    label = f"{code} {status}".strip()
    said = " ".join(str(exc.message or "").split())
    project = vertex.project
    if code in (401, 403) and vertex.express:
        return ApiError(
            f"Vertex AI refused the express-mode key ({label}): check the key (`%banana key`), "
            'or use a project with %config Banana.project = "my-project".',
            code,
            status,
        )
    if code == 401:
        return ApiError(
            f"Vertex AI refused the credentials ({label}): run `{_vertex.LOGIN}` again.",
            code,
            status,
        )
    if code == 403 and ("SERVICE_DISABLED" in str(exc.details) or "is disabled" in said):
        return ApiError(
            f"The Vertex AI API is not enabled in project {project} ({label}): enable it with "
            f"`gcloud services enable aiplatform.googleapis.com --project {project}` (or in "
            "the Cloud console), wait a minute, and re-run.",
            code,
            status,
        )
    if code == 403:
        return ApiError(
            f"Vertex AI refused project {project} to these credentials ({label}): "
            '%config Banana.project = "…" must name a project your account may use (role '
            "Vertex AI User).",
            code,
            status,
        )
    if code == 404 and "Publisher Model" in said:
        return ApiError(
            f"Location {vertex.location} does not serve {model_id} ({label}): "
            f'%config Banana.location = "{_vertex.DEFAULT_LOCATION}", or see `%banana models`.',
            code,
            status,
        )
    return None


def _not_found(model_id: str, label: str) -> str:
    """The one line for a model the API does not serve: its successor if the table knows
    one, else where to look for what the API serves today."""
    try:
        spec = resolve_model(model_id)
    except UnknownModel:
        spec = None
    if spec is not None and spec.replacement:
        return (
            f"The API no longer serves {model_id} ({label}): use its replacement, "
            f"-m {spec.replacement}."
        )
    return (
        f"The API does not serve {model_id} ({label}): `%banana models` lists the models it "
        "serves today, and any of their full ids works with -m."
    )


def _retry_seconds(exc: sdk_errors.APIError) -> float | None:
    """How long the server asked to wait: the body's RetryInfo (to the millisecond), else
    the Retry-After header (whole seconds, rounded up by the server)."""
    delay = _retry_delay(exc.details)
    if delay is not None:
        return delay
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    value = headers.get("retry-after") if hasattr(headers, "get") else None
    return _seconds(value) if isinstance(value, str) else None


def _retry_delay(details: Any) -> float | None:
    """``"31.5s"`` from ``error.details[].retryDelay`` (google.rpc.RetryInfo) as 31.5."""
    error = details.get("error") if isinstance(details, dict) else None
    for detail in (error or {}).get("details") or []:
        delay = detail.get("retryDelay") if isinstance(detail, dict) else None
        if isinstance(delay, str) and delay.endswith("s"):
            return _seconds(delay[:-1])
    return None


def _seconds(text: str) -> float | None:
    """A non-negative number of seconds, or ``None`` (an HTTP date, garbage)."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None
