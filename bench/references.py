"""Issue 8, references: preparing 14 large arrays as a request, against plain Pillow PNGs.

Runs in a child process (``python -m bench.references``) so its peak memory is its own.
The subject is ``request.build_request`` with 14 arrays for ``-m pro``: conversion, fitting each
under 5 MB, encoding, building the request. The baseline is what a user could do by hand:
``Image.fromarray(a).save(buf, "PNG", compress_level=1)`` for each array, one after the
other. Peak memory is peak RSS growth (``VmHWM`` after a reset, minus RSS before), because
Pillow's buffers are invisible to tracemalloc.
"""

from __future__ import annotations

import argparse
import gc
import io
import time

from .child import emit, run_child
from .content import DESCRIPTION
from .figure import Figure
from .stats import Stat

MB = 1024 * 1024  # MiB, as the table labels it


def references_figure(size: int, count: int, repeats: int) -> Figure:
    found = run_child(
        "references", "--size", str(size), "--count", str(count), "--repeats", str(repeats)
    )
    value, base = Stat.of(found["prepare_ms"]), Stat.of(found["png_ms"])
    arrays = found["arrays_bytes"]
    growth = Stat.of([b / MB for b in found["prepare_peak_growth"]])
    return Figure(
        "references_14", 8, f"prepare {count} references of {size}×{size}", "ms", value,
        f"build_request(prompt + {count} arrays, model=pro) in a fresh child process vs "
        "Image.fromarray + PNG compress_level=1 for each, sequentially; arrays: " + DESCRIPTION,
        base, "Pillow PNG level 1, once each", score=value.median / base.median, limit=1.3,
        target="≤ 1.3×",
        details={
            "arrays_mb": arrays / MB,
            "peak_rss_growth_mb": growth.to_json(),
            "peak_rss_growth_vs_arrays": growth.median * MB / arrays,
            "peak_total_vs_arrays": 1 + growth.median * MB / arrays,
            "png_peak_rss_growth_mb": Stat.of([b / MB for b in found["png_peak_growth"]]).median,
            "memory_measure": "peak RSS growth: VmHWM after /proc/self/clear_refs minus VmRSS "
            "before (tracemalloc cannot see Pillow's image buffers)",
            "sent": found["sent"],
        },
    )  # fmt: skip


def memory_figure(time_figure: Figure) -> Figure:
    """The same runs' memory as a row of its own: peak growth over the arrays' own size."""
    details = time_figure.details
    growth = details["peak_rss_growth_mb"]
    value = Stat(growth["median"], growth["min"], growth["max"], tuple(growth["runs"]))
    share = details["peak_rss_growth_vs_arrays"]
    return Figure(
        "references_memory", 8, "peak memory preparing them (RSS growth)", "MiB", value,
        "peak RSS growth while preparing, over the arrays' own size (the arrays are held "
        "before and after); met when the peak, arrays included, stays within 2× the arrays",
        score=1 + share, score_unit="× arrays (peak total)", limit=2.0,
        target="peak ≤ 2× arrays",
        details={"arrays_mb": details["arrays_mb"], "growth_vs_arrays": share},
    )  # fmt: skip


def _png(array: object) -> int:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG", compress_level=1)
    return len(buffer.getvalue())


def main() -> None:
    from . import memory
    from .content import photo_like

    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--repeats", type=int, required=True)
    args = parser.parse_args()

    from nb_banana.gemini.request import build_request

    arrays = [photo_like(args.size, seed) for seed in range(args.count)]
    items = ["Combine these into one scene:", *((f"ref{i + 1}", a) for i, a in enumerate(arrays))]
    gc.collect()
    found: dict[str, list] = {
        "prepare_ms": [], "png_ms": [], "prepare_peak_growth": [], "png_peak_growth": []
    }  # fmt: skip
    sent: list[dict] = []

    def measured(action, times: str, growth: str) -> object:
        gc.collect()
        before = memory.rss()
        memory.reset_peak()
        start = time.perf_counter()
        kept = action()
        found[times].append((time.perf_counter() - start) * 1000)
        found[growth].append(memory.peak() - before)
        return kept

    for index in range(args.repeats):
        steps = [("prepare", lambda: build_request(items, model="pro", aspect="1:1", size="1K")),
                 ("png", lambda: [_png(a) for a in arrays])]  # fmt: skip
        for name, action in steps if index % 2 == 0 else steps[::-1]:
            kept = measured(action, f"{name}_ms", f"{name}_peak_growth")
            if name == "prepare" and not sent:
                sent = [{"mime_type": p.image.mime_type, "bytes": len(p.image.data),
                         "width": p.image.width, "note": p.image.note}
                        for p in kept.images[:2]]  # fmt: skip
            del kept
    emit({**found, "arrays_bytes": sum(a.nbytes for a in arrays), "sent": sent})


if __name__ == "__main__":
    main()
