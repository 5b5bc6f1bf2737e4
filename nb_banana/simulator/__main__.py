"""``python -m nb_banana.simulator``: run the simulator in the foreground until Ctrl-C.

Other processes (a notebook kernel, curl, another language's SDK) reach it through the
printed URL; the SDK picks it up from ``GOOGLE_GEMINI_BASE_URL``.
"""

from __future__ import annotations

import argparse
import threading

from .server import Simulator
from .signatures import MIN_BYTES


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m nb_banana.simulator",
        description="An offline stand-in for the Gemini API (generateContent, models.list, "
        "models.get, the Batch API) on 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, default=0, help="port to bind (default: a free one)")
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds every reply takes (default: 0)"
    )
    parser.add_argument(
        "--model-latency",
        type=_model_latency,
        action="append",
        default=[],
        metavar="MODEL=SECONDS",
        help="seconds one model's replies take, instead of --latency (repeatable), e.g. "
        "gemini-3-pro-image=30",
    )
    parser.add_argument(
        "--signature-bytes",
        type=_signature_bytes,
        default=None,
        metavar="N",
        help="decoded size of every thought signature (default: each model's real size, "
        "about 1.1 MB of base64 on Pro)",
    )
    parser.add_argument(
        "--stream-seconds",
        type=_seconds,
        default=0.0,
        metavar="S",
        help="spread a streamed reply's events (streamGenerateContent) over S seconds, to "
        "watch thoughts and drafts arrive (default: 0)",
    )
    parser.add_argument(
        "--api-key", default=None, help="accept only this key (default: any non-empty key)"
    )
    parser.add_argument(
        "--rate-limit",
        type=_rate_limit,
        default=None,
        metavar="REQUESTS/SECONDS",
        help="answer 429 past this many generateContent requests per model in any window of "
        "that many seconds, e.g. 60/10 (default: no limit)",
    )
    parser.add_argument(
        "--state-dir",
        default=None,
        help="keep batch jobs in this folder, so a restarted simulator answers for them "
        "(default: in memory)",
    )
    parser.add_argument(
        "--batch-timing",
        type=float,
        nargs=2,
        default=None,
        metavar=("PENDING", "RUNNING"),
        help="seconds a batch job is pending, then running (default: 0.5 1)",
    )
    args = parser.parse_args(argv)
    simulator = Simulator(
        api_key=args.api_key,
        latency=args.latency,
        port=args.port,
        rate_limit=args.rate_limit,
        state_dir=args.state_dir,
        signature_bytes=args.signature_bytes,
        model_latency=dict(args.model_latency),
    )
    simulator.stream_seconds = args.stream_seconds
    if args.batch_timing is not None:
        simulator.batch_timing = tuple(args.batch_timing)
    simulator.start()
    print(f"nb_banana simulator listening on {simulator.url}")
    print(f"export GOOGLE_GEMINI_BASE_URL={simulator.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        simulator.stop()


def _rate_limit(text: str) -> tuple[int, float]:
    """``60/10`` -> (60, 10.0): 60 requests per 10 seconds."""
    requests, _, seconds = text.partition("/")
    try:
        return int(requests), float(seconds)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected REQUESTS/SECONDS such as 60/10, not {text!r}"
        ) from None


def _signature_bytes(text: str) -> int:
    """A whole number of bytes, at least what the HMAC needs."""
    try:
        size = int(text)
    except ValueError:
        size = -1
    if size < MIN_BYTES:
        raise argparse.ArgumentTypeError(f"expected a whole number >= {MIN_BYTES}, not {text!r}")
    return size


def _seconds(text: str) -> float:
    """A number of seconds, zero or more."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:
        raise argparse.ArgumentTypeError(f"expected seconds >= 0, not {text!r}")
    return seconds


def _model_latency(text: str) -> tuple[str, float]:
    """``gemini-3-pro-image=30`` -> ("gemini-3-pro-image", 30.0)."""
    model, _, seconds = text.partition("=")
    try:
        return model.strip(), float(seconds)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected MODEL=SECONDS such as gemini-3-pro-image=30, not {text!r}"
        ) from None


if __name__ == "__main__":
    main()
