"""Issue 8, ``%load_ext nb_banana``: what loading the extension adds to a fresh process.

Each run is a new interpreter (imports are cold, as in a new kernel): one creates an
``InteractiveShell`` and stops; the other also runs ``%load_ext nb_banana`` and reports how
long that line took inside the process. The figure is the difference of the medians.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from .figure import Figure
from .stats import Stat

_BARE = "from IPython.core.interactiveshell import InteractiveShell\nInteractiveShell.instance()\n"
_LOADED = (
    "import json, time\n"
    "from IPython.core.interactiveshell import InteractiveShell\n"
    "ip = InteractiveShell.instance()\n"
    "start = time.perf_counter()\n"
    "ip.run_line_magic('load_ext', 'nb_banana')\n"
    "print(json.dumps((time.perf_counter() - start) * 1000))\n"
)


def _process_ms(code: str) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return (time.perf_counter() - start) * 1000, done.stdout


def load_ext_figure(repeats: int) -> Figure:
    _process_ms(_BARE)  # warm the disk cache for both
    bare: list[float] = []
    loaded: list[float] = []
    inside: list[float] = []
    for index in range(repeats):
        order = [_BARE, _LOADED] if index % 2 == 0 else [_LOADED, _BARE]
        for code in order:
            ms, out = _process_ms(code)
            if code is _BARE:
                bare.append(ms)
            else:
                loaded.append(ms)
                inside.append(json.loads(out))
    base, value = Stat.of(bare), Stat.of(loaded)
    added = value.median - base.median
    return Figure(
        "load_ext", 8, "%load_ext nb_banana", "ms", value,
        "wall time of `python -c` creating an InteractiveShell, with vs without "
        "%load_ext nb_banana (fresh process each run, cold imports); score = difference "
        "of the medians",
        base, "bare IPython start", score=added, score_unit="ms added", limit=50.0,
        target="adds ≤ 50 ms", details={"in_process_load_ext_ms": Stat.of(inside).to_json()},
    )  # fmt: skip
