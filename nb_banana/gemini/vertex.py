"""Vertex AI as the backend: which project and location, and whose credentials.

The same models are served by Google Cloud's Vertex AI, billed to a Cloud project and
authorised by Application Default Credentials (ADC: ``gcloud auth application-default
login``, a service-account file in ``GOOGLE_APPLICATION_CREDENTIALS``, a Workbench
runtime's own account) or, in express mode, by a Vertex API key. The settings come down
as arguments (``turns/offline.py`` reads ``Banana.backend``, ``project``, ``location``);
this module only decides and loads credentials.

The SDK would read ``GOOGLE_CLOUD_PROJECT`` and ``GOOGLE_CLOUD_LOCATION`` itself, but drops
them when a custom base URL is set (``Banana.base_url``, the simulator) and then posts to
the bare URL without auth; so they are read here (as the settings' defaults) and passed
to ``genai.Client`` explicitly.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import SetupError

BACKENDS = ("gemini", "vertex")
DEFAULT_LOCATION = "global"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
LOGIN = "gcloud auth application-default login"


class VertexSetupError(SetupError):
    """Vertex AI cannot be reached as set up: no credentials, no project."""


@dataclass(frozen=True)
class Target:
    """Where a Vertex call goes: a project and location (ADC), or express mode (a key)."""

    project: str  # "" in express mode
    location: str

    @property
    def express(self) -> bool:
        return not self.project

    @property
    def ident(self) -> str:
        """Part of the store's endpoint class: answers of one project and location are
        never offered to another, nor to the Developer API."""
        return "vertex:express" if self.express else f"vertex:{self.project}/{self.location}"

    def describe(self) -> str:
        if self.express:
            return "Vertex AI in express mode"
        return f"Vertex AI (project {self.project}, location {self.location})"


def env_wants_vertex(environ: Any = os.environ) -> bool:
    """``GOOGLE_GENAI_USE_VERTEXAI`` as the SDK reads it (``true`` or ``1``)."""
    return environ.get("GOOGLE_GENAI_USE_VERTEXAI", "").strip().lower() in ("true", "1")


def env_project(environ: Any = os.environ) -> str:
    return environ.get("GOOGLE_CLOUD_PROJECT", "").strip()


def env_location(environ: Any = os.environ) -> str:
    return environ.get("GOOGLE_CLOUD_LOCATION", "").strip() or DEFAULT_LOCATION


def target(project: str, location: str, has_key: bool, adc_project: Callable[[], str]) -> Target:
    """The target the settings name. A project means ADC (as in the SDK, an explicit
    project wins over a key); no project but a key means express mode; neither means the
    project the ADC themselves name (``adc_project``: a service-account file's
    ``project_id``, or gcloud's project), asked only then."""
    location = location or DEFAULT_LOCATION
    if project:
        return Target(project, location)
    if has_key:
        return Target("", location)
    return Target(adc_project(), location)


def credentials(project: str) -> tuple[Any, str]:
    """The ADC with the cloud-platform scope, and the project (``project`` if given, else
    the one the credentials name); every failure is one line naming the fix."""
    import google.auth  # ships with the SDK; loaded only when Vertex is used
    from google.auth import exceptions

    try:
        found, named = google.auth.default(scopes=[SCOPE])
    except exceptions.DefaultCredentialsError as exc:
        raise VertexSetupError(_no_credentials(exc)) from None
    project = project or named or ""
    if not project:
        raise VertexSetupError(
            'Vertex AI needs a Google Cloud project: %config Banana.project = "my-project" '
            "(or set GOOGLE_CLOUD_PROJECT), or use an express-mode API key with `%banana key`."
        )
    return found, project


def _no_credentials(exc: Exception) -> str:
    file = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS", "")
    if file:
        return (
            f"Vertex AI cannot use GOOGLE_APPLICATION_CREDENTIALS ({file}): "
            f"{' '.join(str(exc).split())[:160]} Point it at a valid service-account file, "
            f"or unset it and run `{LOGIN}`."
        )
    return (
        f"No Google Cloud credentials for Vertex AI: run `{LOGIN}` in a terminal (or set "
        "GOOGLE_APPLICATION_CREDENTIALS to a service-account file), then re-run the cell; "
        'or use an express-mode API key with `%banana key` and %config Banana.project = "".'
    )


def account(found: Any) -> str:
    """Who the credentials act as, for the one line that names them (never a token)."""
    email = getattr(found, "service_account_email", None) or getattr(found, "account", None)
    if email and email != "default":
        return str(email)
    if type(found).__module__.startswith("google.oauth2.credentials"):
        return f"your gcloud user account (`{LOGIN}`)"
    return "this machine's default service account"
