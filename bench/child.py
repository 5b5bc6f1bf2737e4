"""Figures that need a process of their own: fresh memory, nothing else's heap in the way.

A child runs ``python -m bench.<module> ARGS`` and prints one JSON document as its last
line of output; the parent's simulator stays reachable through its URL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from .rig import KEY

ROOT = Path(__file__).resolve().parents[1]


def run_child(module: str, *args: str, timeout: float = 900) -> dict[str, Any]:
    env = {**os.environ, "GEMINI_API_KEY": KEY}
    env.pop("GOOGLE_API_KEY", None)
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{module}", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench.{module} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def emit(document: dict[str, Any]) -> None:
    """The child's answer: one JSON line on stdout."""
    print(json.dumps(document), flush=True)
