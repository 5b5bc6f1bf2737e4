"""Issues 4 and 19, chats: what a growing thread sends per turn, and what it leaves in the
kernel.

A child process plays the kernel (``python -m bench.chats``): one warm-up cell (imports,
client, store), then ``%%banana -m pro -s 1K -c bench`` repeated, each turn a new prompt.
The parent's simulator answers as Google's Pro does (a JPEG, and thought signatures of the
recorded size, about 1.1 MB of base64 each, on the text and the image part), and records
every request, so the bytes per turn are the request bodies' sizes as received; the floor
beside them is the turn's own new parts (its prompt), what a thread held on Google's side
would send. Memory is measured twice, in two children: RSS (what the OS
sees, without tracemalloc's own overhead) and the Python heap with tracemalloc, started
after the warm-up, so "held" is what the turns allocated and still keep. The RSS child
also reports RSS after ``malloc_trim(0)``: the part of "held" that is free memory the C
allocator kept rather than memory in use.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import time
import tracemalloc
from typing import Any

from .child import emit, run_child
from .figure import Figure
from .rig import Rig
from .stats import Stat

MB = 1024 * 1024
CHAT = "bench"


def chat_figures(rig: Rig, turns: int, size: str) -> list[Figure]:
    args = ("--url", rig.sim.url, "--turns", str(turns), "--size", size)
    rig.sim.clear_requests()
    by_rss = run_child("chats", *args, "--store", str(rig.fresh_store()))
    sent = [r for r in rig.sim.requests if r.model][1:]  # the warm-up cell's request first
    sizes = [r.size for r in sent]
    image_bytes = [_inline_bytes(r.body) for r in sent]
    rig.sim.clear_requests()
    by_heap = run_child("chats", *args, "--store", str(rig.fresh_store()), "--heap")
    rig.sim.clear_requests()
    steps = [b - a for a, b in itertools.pairwise(sizes)]
    floors = [_new_parts_bytes(r.body) for r in sent]
    signatures = [_signature_bytes(r.body) for r in sent]
    cell = f"%%banana -m pro -s {size} -c {CHAT}"
    return [
        Figure(
            "chat_turn_bytes", 19, f"Pro chat: bytes sent by turn {turns} ({size}, real-size "
            "signatures)", "bytes",
            Stat.of([sizes[-1]]),
            f"request body size as the simulator received it, per turn of `{cell}`; the "
            "details list every turn, the signatures' and pictures' share",
            details={"per_turn": sizes, "growth_per_turn": steps,
                     "inline_image_base64_bytes": image_bytes,
                     "signature_base64_bytes": signatures,
                     "image_share_last_turn": image_bytes[-1] / sizes[-1],
                     "signature_share_last_turn": signatures[-1] / sizes[-1]},
        ),
        Figure(
            "chat_turn_floor", 19, f"Pro chat: turn {turns}'s own new parts (the floor)",
            "bytes", Stat.of([floors[-1]]),
            "the last content of the request (this turn's prompt) as JSON: what a request "
            "would carry if the thread were held on Google's side (docs/light-chats.md)",
            details={"per_turn": floors},
        ),
        Figure(
            "chat_heap_held", 4, f"chat: Python heap held after {turns} turns", "MiB",
            Stat.of([by_heap["held"] / MB]),
            "tracemalloc current after the turns (started after a warm-up cell, gc run), "
            "in a child process",
            details={"peak_mb": by_heap["peak"] / MB, "top": by_heap["top"],
                     "turn_seconds": by_heap["turn_seconds"]},
        ),
        Figure(
            "chat_rss_held", 4, f"chat: RSS held after {turns} turns", "MiB",
            Stat.of([by_rss["held"] / MB]),
            "VmRSS after the turns minus before (after a warm-up cell), in a child process "
            "without tracemalloc",
            details={"peak_growth_mb": by_rss["peak"] / MB,
                     "held_after_malloc_trim_mb": by_rss["held_after_trim"] / MB,
                     "turn_seconds": by_rss["turn_seconds"]},
        ),
    ]  # fmt: skip


def _new_parts_bytes(body: dict[str, Any] | None) -> int:
    """The JSON size of the request's last content: the turn's own new parts."""
    contents = (body or {}).get("contents", [])
    return len(json.dumps(contents[-1], separators=(",", ":"))) if contents else 0


def _signature_bytes(body: dict[str, Any] | None) -> int:
    """Base64 characters of every thought signature a request sends back."""
    parts = [p for c in (body or {}).get("contents", []) for p in c.get("parts", [])]
    return sum(len(p.get("thoughtSignature") or p.get("thought_signature") or "") for p in parts)


def _inline_bytes(body: dict[str, Any] | None) -> int:
    """Base64 characters of every inline image in a request (the history's pictures)."""
    total = 0
    for content in (body or {}).get("contents", []):
        for part in content.get("parts", []):
            inline = part.get("inlineData") or part.get("inline_data") or {}
            total += len(inline.get("data", ""))
    return total


def main() -> None:
    from IPython.testing.globalipapp import start_ipython
    from IPython.utils.capture import capture_output

    from nb_banana.context import settings

    from . import memory
    from .rig import use_bench_key

    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--store", required=True)
    parser.add_argument("--turns", type=int, required=True)
    parser.add_argument("--size", required=True)
    parser.add_argument("--heap", action="store_true", help="trace the heap (slower)")
    args = parser.parse_args()

    use_bench_key()
    shell = start_ipython()
    shell.run_line_magic("load_ext", "nb_banana")
    settings().base_url = args.url
    settings().store = args.store

    def cell(line: str, text: str) -> None:
        with capture_output():
            shell.run_cell_magic("banana", line, text)

    cell(f"-m pro -s {args.size}", "warm-up: a harbour at dusk")
    gc.collect()
    before = memory.rss()
    memory.reset_peak()
    if args.heap:
        tracemalloc.start(12)
    seconds = []
    for turn in range(1, args.turns + 1):
        start = time.perf_counter()
        cell(f"-m pro -s {args.size} -c {CHAT}", f"turn {turn}: add a small red boat")
        seconds.append(round(time.perf_counter() - start, 3))
    gc.collect()
    if args.heap:
        held, peak = tracemalloc.get_traced_memory()
        snapshot = tracemalloc.take_snapshot()
        top = [f"{stat.size / 1024:.0f} KiB {stat.traceback[0]}"
               for stat in snapshot.statistics("lineno")[:8]]  # fmt: skip
        emit({"held": held, "peak": peak, "top": top, "turn_seconds": seconds})
    else:
        held, peak = memory.rss() - before, memory.peak() - before
        emit({"held": held, "peak": peak, "held_after_trim": memory.trimmed_rss() - before,
              "turn_seconds": seconds})  # fmt: skip


if __name__ == "__main__":
    main()
