"""``python -m nb_banana.simulator``: run the simulator in the foreground until Ctrl-C.

Other processes (a notebook kernel, curl, another language's SDK) reach it through the
printed URL; the SDK picks it up from ``GOOGLE_GEMINI_BASE_URL``.
"""

from __future__ import annotations

import argparse
import threading

from .server import Simulator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m nb_banana.simulator",
        description="An offline stand-in for the Gemini API (generateContent, models.list, "
        "models.get) on 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, default=0, help="port to bind (default: a free one)")
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds every reply takes (default: 0)"
    )
    parser.add_argument(
        "--api-key", default=None, help="accept only this key (default: any non-empty key)"
    )
    args = parser.parse_args(argv)
    simulator = Simulator(api_key=args.api_key, latency=args.latency, port=args.port).start()
    print(f"nb_banana simulator listening on {simulator.url}")
    print(f"export GOOGLE_GEMINI_BASE_URL={simulator.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        simulator.stop()


if __name__ == "__main__":
    main()
