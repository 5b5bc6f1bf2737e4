"""The API's error answer: ``{"error": {"code", "message", "status"}}`` with Google's status names.

Every refusal the simulator makes, whether a rule broken by the request or an injected
fault, is raised as a ``Rejection`` and written by the server in this one shape, which is
the shape ``google.genai.errors.APIError`` parses.
"""

from __future__ import annotations

import json
from typing import Any

STATUS_NAMES: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

# The messages Google's front end sends with each status when nothing more specific applies.
DEFAULT_MESSAGES: dict[int, str] = {
    400: "Request contains an invalid argument.",
    401: "Request had invalid authentication credentials. Expected OAuth 2 access token, "
    "login cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project.",
    403: "The caller does not have permission",
    404: "Requested entity was not found.",
    429: "Resource has been exhausted (e.g. check quota).",
    500: "An internal error has occurred. Please retry or report in "
    "https://developers.generativeai.google/guide/troubleshooting",
    503: "The model is overloaded. Please try again later.",
    504: "The request timed out. Please try again.",
}

# google.rpc.Code: what a google.rpc.Status (an operation's or a batch response's error)
# holds in ``code`` instead of the HTTP status.
GRPC_CODES: dict[str, int] = {
    "CANCELLED": 1,
    "UNKNOWN": 2,
    "INVALID_ARGUMENT": 3,
    "DEADLINE_EXCEEDED": 4,
    "NOT_FOUND": 5,
    "PERMISSION_DENIED": 7,
    "RESOURCE_EXHAUSTED": 8,
    "FAILED_PRECONDITION": 9,
    "ABORTED": 10,
    "UNIMPLEMENTED": 12,
    "INTERNAL": 13,
    "UNAVAILABLE": 14,
    "UNAUTHENTICATED": 16,
}

JSON_TYPE = "application/json; charset=UTF-8"


def status_name(code: int) -> str:
    """Google's canonical status for an HTTP code (``UNKNOWN`` for codes it has none for)."""
    if code in STATUS_NAMES:
        return STATUS_NAMES[code]
    return "FAILED_PRECONDITION" if 400 <= code < 500 else "UNKNOWN"


class Rejection(Exception):
    """An error answer to send instead of a reply; raised anywhere below the HTTP handler."""

    def __init__(
        self,
        code: int,
        message: str | None = None,
        *,
        details: tuple[dict[str, Any], ...] = (),
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.code = code
        self.message = message or DEFAULT_MESSAGES.get(code, "Request failed.")
        self.details = details
        self.headers = headers
        super().__init__(f"{code} {status_name(code)}: {self.message}")

    def body(self) -> bytes:
        error: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "status": status_name(self.code),
        }
        if self.details:
            error["details"] = list(self.details)
        return json.dumps({"error": error}, indent=2).encode()

    def rpc_status(self) -> dict[str, Any]:
        """The same error as a ``google.rpc.Status``: a gRPC code, the message, no details.

        This is how a batch reports one request's failure (``InlinedResponse.error``).
        The details are left out because google-genai 3.6.1 reads them as a list of
        strings (``JobError.details``) and would refuse the API's typed detail objects.
        """
        return {"code": GRPC_CODES[status_name(self.code)], "message": self.message}


def invalid(message: str) -> Rejection:
    """A 400 INVALID_ARGUMENT, the answer to every request rule the simulator checks."""
    return Rejection(400, message)


def field_violation(path: str, text: str, message: str = "GenerateContentRequest") -> Rejection:
    """A 400 in the shape of the API's field checks: ``* GenerateContentRequest.<path>: ...``."""
    return invalid(f"* {message}.{path}: {text}\n")
