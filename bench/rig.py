"""The bench's test bed: one simulator with a fixed latency, one IPython shell, fresh stores.

nb_banana is reached the way a notebook reaches it: ``%load_ext nb_banana`` in a real
``InteractiveShell`` and ``run_cell_magic`` under ``capture_output``, so the magic's parsing
and display are timed too. The baseline client is a plain ``genai.Client`` pointed at the
same simulator.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from IPython.testing.globalipapp import start_ipython
from IPython.utils.capture import CapturedIO, capture_output

from nb_banana.context import context, settings
from nb_banana.memory.session import Session
from nb_banana.simulator import Simulator

KEY = "bench-key-0123456789abcdef"


def use_bench_key() -> None:
    """The SDK reads the key from the environment; a second key variable would make it warn."""
    os.environ.pop("GOOGLE_API_KEY", None)
    os.environ["GEMINI_API_KEY"] = KEY


class Rig:
    def __init__(self, latency: float, root: Path) -> None:
        use_bench_key()
        self.root = root
        self.latency = latency
        self.sim = Simulator(latency=latency).start()
        self.shell = start_ipython()
        self.shell.run_line_magic("load_ext", "nb_banana")
        settings().base_url = self.sim.url
        self._stores = 0
        self.fresh_store()

    def close(self) -> None:
        self.sim.stop()

    def fresh_store(self) -> Path:
        """A new, empty store and no chats: one figure's cache never answers another's."""
        self._stores += 1
        folder = self.root / f"store{self._stores}"
        settings().store = str(folder)
        context().session = Session()
        return folder

    def cell(self, line: str, text: str) -> CapturedIO:
        """Run ``%%banana line`` with ``text`` as the cell, capturing what it displays."""
        with capture_output() as captured:
            self.shell.run_cell_magic("banana", line, text)
        return captured

    @property
    def last(self) -> Any:
        """The ``Result`` of the last cell (``_banana``)."""
        return self.shell.user_ns["_banana"]

    @contextmanager
    def configured(self, **values: Any) -> Iterator[None]:
        """``%config Banana.x = …`` for the duration of one figure."""
        s = settings()
        saved = {name: getattr(s, name) for name in values}
        for name, value in values.items():
            setattr(s, name, value)
        try:
            yield
        finally:
            for name, value in saved.items():
                setattr(s, name, value)

    def sdk_client(self) -> Any:
        """A plain SDK client on the simulator: what a user without nb_banana would write."""
        from google import genai
        from google.genai import types

        return genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=self.sim.url))
