"""Issue 8, the panel: from a Generate click to the busy state, on the kernel's thread.

A click's handler runs on the kernel's main thread, and while it runs the kernel can do
nothing else, so the figure is the wall time from ``generate_button.click()`` until the
status widget holds the busy state. Without a frontend the widgets send no comm messages,
so serialising them for the browser is not included. ``Banana.cache`` is off so each click
makes a real call (which the panel runs off the kernel's thread).
"""

from __future__ import annotations

import time

from nb_banana.faces.panel import Panel

from .figure import Figure
from .rig import Rig
from .stats import Stat

_BUSY = "nbb-busy"


def panel_figure(rig: Rig, repeats: int) -> Figure:
    rig.fresh_store()
    panel = Panel(rig.shell.user_ns)
    panel.form.prompt.value = "a lighthouse on a cliff at dawn, watercolour"
    times = []
    with rig.configured(cache=False):
        try:
            for _ in range(repeats + 1):
                times.append(_click_to_busy(panel))
                panel.wait()
                if not panel.message.startswith("Done"):
                    raise RuntimeError(f"the panel's call failed: {panel.message}")
        finally:
            panel.close()
    return Figure(
        "panel_click", 8, "panel click → busy state", "ms", Stat.of(times[1:]),
        "Panel(user_ns); wall time of generate_button.click() until panel.status shows the "
        "busy state (kernel thread); the first click is a warm-up",
        score=Stat.of(times[1:]).median, score_unit="ms", limit=100.0, target="≤ 100 ms",
    )  # fmt: skip


def _click_to_busy(panel: Panel, timeout: float = 10.0) -> float:
    start = time.perf_counter()
    panel.generate_button.click()
    while _BUSY not in panel.status.value:
        if time.perf_counter() - start > timeout:
            raise RuntimeError(f"the panel never showed busy: {panel.message}")
        time.sleep(0.0005)
    return (time.perf_counter() - start) * 1000
