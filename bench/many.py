"""Issue 14, many pictures at once: ``%%banana --each`` over 100 prompts.

- ``each_100``: 100 elements, ``Banana.max_concurrency = 8``, the simulator answering in
  200 ms: wall time against the ideal, ⌈100 / 8⌉ × 200 ms, when nothing but the latency
  counted. In the same rounds the SDK alone makes the same 100 calls (``client.aio``, 8 in
  flight). Before each timed run, untimed, the same calls are made once at no latency:
  the simulator keeps the pictures it drew (``simulator.render``), so during the run it
  does what Google's servers do to the client's machine, which is nothing but answer.
  Drawing a 1K picture costs ~30 ms of CPU, 100 of them take about one of this machine's
  two cores for the whole run, and that would measure the rig, not the client. The same
  figure with the pictures drawn during the run, as it was measured until issue 22, is
  kept beside it (``drawing_live``), with the SDK alone's.
- ``each_rate_limited``: the same run under the simulator's limit of 60 requests per 10 s
  (a sliding window, its 429s carrying RetryInfo), against the limit's floor: 60 go at
  once, the other 40 cannot start before the window has moved 10 s on, and then take
  ⌈40 / 8⌉ × 200 ms. No element may be lost, nor more 429s than elements.
- ``each_memory``: tracemalloc's peak in a child process while 100 results of 1K stream
  into the store, against 1.5 × one answer's size (its picture and its thought signatures,
  which the simulator sends at the recorded size) × ``max_concurrency`` plus a fixed
  overhead (``OVERHEAD``: the SDK's and the run's own structures, thumbnails included).

Every cell carries ``--fresh``, so the store never answers; it still records every result.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from typing import Any

from nb_banana.gemini.models import resolve_model

from .child import emit, run_child
from .figure import Figure, against
from .rig import Rig
from .stats import Stat, rounds, stopwatch_ms

ELEMENTS = 100
CONCURRENCY = 8
LIMIT = (60, 10.0)  # requests per seconds, for the rate-limited run
OVERHEAD = 4 * 1024 * 1024  # bytes: the memory target's fixed part
CELL = ("--each prompts --fresh", "{item}")
MB = 1024 * 1024


def prompts(tag: str) -> list[str]:
    return [f"a lighthouse on a cliff, {tag} variant {i}" for i in range(ELEMENTS)]


def each_figures(rig: Rig, repeats: int) -> list[Figure]:
    rig.fresh_store()
    with rig.configured(max_concurrency=CONCURRENCY):
        rig.shell.user_ns["prompts"] = prompts("warm-up")
        rig.cell(*CELL)  # warm-up: the SDK imported, connections open, the store made
        speed = _speed_figure(rig, repeats)
        limited = _limited_figure(rig, max(1, repeats // 3))
    return [speed, limited]


def _speed_figure(rig: Rig, repeats: int) -> Figure:
    client, loop = rig.sdk_client(), asyncio.new_event_loop()
    ideal = math.ceil(ELEMENTS / CONCURRENCY) * rig.latency * 1000
    cell = _Calls(rig, "speed", lambda texts: _run(rig, texts))
    sdk = _Calls(rig, "sdk", lambda texts: loop.run_until_complete(_sdk_alone(client, texts)))
    drawn = rounds({"each": cell.again, "sdk": sdk.again}, repeats,
                   prepare={"each": cell.predraw, "sdk": sdk.predraw})  # fmt: skip
    live = rounds({"each": cell.fresh, "sdk": sdk.fresh}, max(3, repeats // 3))
    loop.close()
    each, alone = drawn["each"], drawn["sdk"]
    live_each, live_sdk = live["each"].median / ideal, live["sdk"].median / ideal
    return against(
        "each_100", 14, "--each over 100 prompts, max_concurrency = 8", each,
        Stat.of([ideal]), "ideal ⌈100/8⌉ × latency", 1.15,
        f"%%banana --each prompts --fresh over {ELEMENTS} prompts with Banana.max_concurrency "
        f"= {CONCURRENCY}, simulator latency {rig.latency * 1000:.0f} ms, its pictures drawn "
        "before the timing (as Google's are drawn off the user's machine), vs the ideal",
        aside=f"SDK alone {alone.median / ideal:.2f}×; drawing during the run "
        f"{live_each:.2f}×, SDK alone {live_sdk:.2f}×",
        sdk_alone=alone.to_json(), sdk_alone_ratio=alone.median / ideal,
        over_sdk_alone=each.median / alone.median,
        drawing_live={"each": live["each"].to_json(), "sdk_alone": live["sdk"].to_json(),
                      "ratio": live_each, "sdk_alone_ratio": live_sdk},
    )  # fmt: skip


class _Calls:
    """One way of making the 100 calls (the cell, or the SDK alone) and its next prompts."""

    def __init__(self, rig: Rig, tag: str, make: Callable[[list[str]], object]) -> None:
        self.rig, self.tag, self.make = rig, tag, make
        self.texts: list[str] = []

    def predraw(self) -> None:
        """Untimed: the next run's calls made once with no latency, so that the simulator
        has drawn their pictures; then its count of takes starts afresh, so the timed run
        asks for the same first takes and is handed the pictures already drawn."""
        self.texts = prompts(f"{self.tag} {time.perf_counter_ns()}")
        sim = self.rig.sim
        latency, sim.latency = sim.latency, 0.0
        try:
            self.make(self.texts)
        finally:
            sim.latency = latency
        sim.reset()

    def again(self) -> None:
        """The calls ``predraw`` made, timed."""
        self.make(self.texts)

    def fresh(self) -> None:
        """New prompts: the simulator draws every picture during the run."""
        self.make(prompts(f"{self.tag} {time.perf_counter_ns()}"))


def _limited_figure(rig: Rig, repeats: int) -> Figure:
    requests, window = LIMIT
    later = ELEMENTS - requests * (math.ceil(ELEMENTS / requests) - 1)
    floor = (math.ceil(ELEMENTS / requests) - 1) * window * 1000
    floor += math.ceil(later / CONCURRENCY) * rig.latency * 1000
    walls, refused = [], []
    for _ in range(repeats):
        rig.sim.reset()  # a new window: the last run's requests no longer count
        rig.sim.rate_limit = LIMIT
        texts = prompts(f"limited {time.perf_counter_ns()}")
        walls.append(stopwatch_ms(partial(_run, rig, texts)))
        refused.append(rig.sim.rate_limited)
    rig.sim.reset()
    if max(refused) > ELEMENTS:
        raise RuntimeError(f"{max(refused)} 429s for {ELEMENTS} elements")
    return against(
        "each_rate_limited", 14, "the same, limited to 60 requests per 10 s",
        Stat.of(walls), Stat.of([floor]), "the limit's floor", 1.10,
        f"the same cell under the simulator's limit of {requests} requests per {window:g} s "
        "(sliding window, 429 with RetryInfo), vs the floor that limit sets; every element "
        "done, no more 429s than elements",
        aside=f"{max(refused)} × 429 at most, 0 lost", refused_429=refused,
    )  # fmt: skip


def _run(rig: Rig, texts: list[str]) -> None:
    """One run of the cell over ``texts``; every element must come back."""
    rig.shell.user_ns["prompts"] = texts
    rig.cell(*CELL)
    result = rig.last
    if len(result.done) != ELEMENTS:
        raise RuntimeError(f"--each lost elements: {len(result.done)} of {ELEMENTS} done")


async def _sdk_alone(client: Any, texts: list[str]) -> None:
    from google.genai import types

    model = resolve_model("lite").id
    config = types.GenerateContentConfig(
        response_modalities=["TEXT", "IMAGE"], image_config=types.ImageConfig(aspect_ratio="1:1")
    )
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(text: str) -> None:
        async with limit:
            await client.aio.models.generate_content(model=model, contents=text, config=config)

    await asyncio.gather(*(one(text) for text in texts))


def memory_figure(rig: Rig) -> Figure:
    found = run_child("many", "--url", rig.sim.url, "--store", str(rig.fresh_store()))
    one, peak = found["result_bytes"], found["peak"]
    limit = 1.5 * one * CONCURRENCY + OVERHEAD
    return Figure(
        "each_memory", 14, "--each: heap peak while 100 results stream to the store", "MiB",
        Stat.of([peak / MB]),
        f"tracemalloc peak during %%banana --each over {ELEMENTS} prompts (1K, "
        f"max_concurrency = {CONCURRENCY}), in a child process after a warm-up run",
        score=peak / MB, score_unit=" MiB", limit=limit / MB,
        target=f"≤ 1.5 × {one / 1000:.0f} kB × {CONCURRENCY} + {OVERHEAD // MB} MiB",
        details={"result_bytes": one, "held_after_mb": found["held"] / MB,
                 "all_results_mb": one * ELEMENTS / MB, "top": found["top"]},
    )  # fmt: skip


def _child(url: str, store: str) -> None:
    """The kernel's side of ``memory_figure``: a shell of its own, the parent's simulator."""
    from IPython.testing.globalipapp import start_ipython
    from IPython.utils.capture import capture_output

    from nb_banana.context import settings

    shell = start_ipython()
    shell.run_line_magic("load_ext", "nb_banana")
    s = settings()
    s.base_url, s.store, s.max_concurrency = url, store, CONCURRENCY

    def cell(tag: str) -> None:
        shell.user_ns["prompts"] = prompts(tag)
        with capture_output():
            shell.run_cell_magic("banana", *CELL)

    cell("warm-up")
    one = _reply_bytes(shell.user_ns["_banana"][0])
    del shell.user_ns["_banana"]
    gc.collect()
    tracemalloc.start(10)
    cell("measured")
    held, peak = tracemalloc.get_traced_memory()
    top = tracemalloc.take_snapshot().statistics("lineno")[:5]
    tracemalloc.stop()
    emit({"result_bytes": one, "peak": peak, "held": held,
          "top": [f"{s.size / 1024:.0f} KiB {s.traceback}" for s in top]})  # fmt: skip


def _reply_bytes(result: Any) -> int:
    """What one answer brings in: its picture and its thought signatures (about 0.45 MB each
    at the recorded size, two a reply), as the call holds them before they are stored."""
    parts = [part for reply in result.replies for part in reply.content.parts or ()]
    signatures = sum(len(part.thought_signature or b"") for part in parts)
    return sum(len(out.data) for out in result.outputs) + signatures


def _main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.many")
    parser.add_argument("--url", required=True)
    parser.add_argument("--store", required=True)
    args = parser.parse_args(argv)
    _child(args.url, args.store)


if __name__ == "__main__":
    _main()
