"""``python -m bench [--quick] [--out PATH]``: run every figure, print the table, write JSON."""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import machine, report
from .figure import Figure
from .rig import Rig

DEFAULT_OUT = Path(__file__).resolve().parent / "results.json"


@dataclass(frozen=True)
class Plan:
    """How much to measure: the full run, or ``--quick`` for a smoke test."""

    repeats: int
    load_repeats: int
    ref_size: int
    ref_repeats: int
    chat_turns: int

    @classmethod
    def chosen(cls, quick: bool) -> Plan:
        if quick:
            return cls(repeats=3, load_repeats=3, ref_size=256, ref_repeats=2, chat_turns=3)
        return cls(repeats=15, load_repeats=15, ref_size=4096, ref_repeats=3, chat_turns=10)


GROUPS = (
    "cells", "stream", "load", "references", "replies", "panel", "store", "chats", "batch", "many",
)  # fmt: skip
REFERENCES = 14


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few repeats, small sizes (~1 min)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write JSON")
    parser.add_argument("--latency", type=float, default=0.2, help="simulator latency, seconds")
    parser.add_argument("--only", default=",".join(GROUPS),
                        help=f"comma-separated groups to run (of {', '.join(GROUPS)})")  # fmt: skip
    args = parser.parse_args(argv)
    chosen = [g.strip() for g in args.only.split(",") if g.strip()]
    unknown = sorted(set(chosen) - set(GROUPS))
    if unknown:
        parser.error(f"unknown group(s): {', '.join(unknown)}")
    plan = Plan.chosen(args.quick)

    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="nb_banana-bench-") as root:
        rig = Rig(args.latency, Path(root))
        try:
            for group in GROUPS:
                if group in chosen:
                    print(f"… {group}", flush=True)
                    figures.extend(_run(group, rig, plan)())
        finally:
            rig.close()
    context = {
        "machine": machine.describe(),
        "plan": {
            **vars(plan),
            "quick": args.quick,
            "latency_s": args.latency,
            "references": REFERENCES,
        },
        "seconds": round(time.perf_counter() - started, 1),
        # Other processes' work shows up in every timing: the 1-minute load, before and after.
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    document = {**context, "figures": [f.to_json() for f in figures]}
    report.write_json(args.out, document)
    m = context["machine"]
    print(
        f"\nnb_banana benchmarks · simulator latency {args.latency * 1000:.0f} ms · "
        f"{plan.repeats} runs per timing · {m['cpu']}, {m['cores']} cores · "
        f"load {load_before:.2f} · {context['seconds']} s\n"
    )
    print(report.table(document["figures"]))
    print(f"\nwritten to {args.out}")


def _run(group: str, rig: Rig, plan: Plan) -> Callable[[], list[Figure]]:
    from . import batch, chats, many, panel, references, replies, speed, startup, store, stream

    def refs() -> list[Figure]:
        timing = references.references_figure(plan.ref_size, REFERENCES, plan.ref_repeats)
        return [timing, references.memory_figure(timing)]

    return {
        "cells": lambda: speed.cell_figures(rig, plan.repeats),
        "stream": lambda: [stream.first_thought_figure(rig, plan.repeats)],
        "load": lambda: [startup.load_ext_figure(plan.load_repeats)],
        "references": refs,
        "replies": lambda: [replies.replies_figure(rig, plan.repeats)],
        "panel": lambda: [panel.panel_figure(rig, plan.repeats)],
        "store": lambda: [
            store.cached_figure(rig, plan.repeats),
            store.notebook_bytes_figure(rig, "2K"),
            store.notebook_bytes_figure(rig, "4K"),
        ],
        "chats": lambda: chats.chat_figures(rig, plan.chat_turns, "1K"),
        "batch": lambda: [batch.submit_figure(rig, plan.repeats)],
        "many": lambda: [*many.each_figures(rig, plan.repeats), many.memory_figure(rig)],
    }[group]


if __name__ == "__main__":
    main()
