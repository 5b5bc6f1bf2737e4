"""One exception type per cause a user can meet, each carrying the one line they should read.

The magics turn any ``BananaError`` into IPython's ``UsageError`` (a message without a
traceback); the panel shows ``str(error)`` in its status line. Messages name the cause and
the fix, and never contain the API key (``secrets.redact`` is applied when they are shown).
"""

from __future__ import annotations


class BananaError(Exception):
    """Base for every error nb_banana reports to a user; ``str()`` is the whole message."""


class SetupError(BananaError):
    """Something to set before a call can go out: a key, a setting, an option."""


class NoKeyError(SetupError):
    def __init__(self) -> None:
        super().__init__(
            "No Gemini API key: set GEMINI_API_KEY (or GOOGLE_API_KEY) in the environment, "
            "or run `%banana key` to type one in; `%banana offline` runs without a key "
            "on the built-in simulator."
        )


class OptionError(BananaError):
    """An option value the model or nb_banana cannot take (aspect, size, count, model...)."""


class PromptError(BananaError):
    """The prompt text or a ``{name}`` reference in it cannot be used."""


class ImageInputError(BananaError):
    """A value given as an image cannot be turned into one the API accepts."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason
        super().__init__(f"`{name}`: {reason}")


class BudgetError(BananaError):
    """The call would pass ``Banana.budget_usd``; refused before anything is sent."""


class ApiError(BananaError):
    """The API answered with an HTTP error; ``code`` is its status."""

    def __init__(self, message: str, code: int | None = None, status: str = "") -> None:
        self.code = code
        self.status = status
        super().__init__(message)


class TransientError(ApiError):
    """Rate limits, overload and timeouts: worth trying again later.

    ``retry_after``: the seconds a 429 asked the client to wait, when it said (a paced run
    pauses for exactly that long).
    """

    def __init__(
        self, message: str, code: int | None = None, status: str = "",
        retry_after: float | None = None,
    ) -> None:  # fmt: skip
        super().__init__(message, code, status)
        self.retry_after = retry_after


class ReplyError(BananaError):
    """The call succeeded on the wire but the reply holds no usable image."""

    def __init__(self, message: str, reason: str = "") -> None:
        self.reason = reason
        super().__init__(message)


class PromptBlockedError(ReplyError):
    """``promptFeedback.blockReason``: the prompt itself was refused."""


class ImageRefusedError(ReplyError):
    """A candidate ended with a safety or policy ``finishReason`` instead of an image."""


class NoImageError(ReplyError):
    """The model answered, but with no image (text only, or an undecodable one)."""


class BatchError(BananaError):
    """A Batch API job cannot be submitted, found, fetched or cancelled as asked."""


class CancelledError(BananaError):
    def __init__(self) -> None:
        super().__init__("Cancelled: the call was stopped and nothing was changed.")


class StoreError(BananaError):
    """The store folder (``Banana.store``) cannot be read or written; the message names the
    path and what to do about it."""
