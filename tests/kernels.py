"""A real IPython kernel driven as a notebook front-end drives it (jupyter_client).

For defects that are kernel habits: two kernels on one folder, a restart, the cell ids a
notebook sends (``metadata.cellId``, as JupyterLab does) or does not send (nbclient).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_client.manager import start_new_kernel

from .conftest import TEST_KEY


@dataclass(frozen=True)
class Ran:
    """What one cell showed: printed text, displayed text/plain, and the error line if any."""

    stdout: str
    shown: str
    error: str

    @property
    def everything(self) -> str:
        return self.stdout + self.shown + self.error


class Kernel:
    """One kernel with nb_banana loaded, pointed at the simulator and a store folder."""

    def __init__(self, sim_url: str, store: Path, cwd: Path) -> None:
        self.sim_url, self.store, self.cwd = sim_url, store, cwd
        env = {**os.environ, "GEMINI_API_KEY": TEST_KEY, "IPYTHONDIR": str(cwd / ".ipython")}
        self.manager, self.client = start_new_kernel(kernel_name="python3", env=env, cwd=str(cwd))
        self._set_up()

    def _set_up(self) -> None:
        ran = self.run(f"%load_ext nb_banana\n%config Banana.base_url = {self.sim_url!r}\n"
                       f"%config Banana.store = {str(self.store)!r}")  # fmt: skip
        assert not ran.error, ran.error

    def run(self, code: str, cell_id: str | None = None, timeout: float = 60) -> Ran:
        """Execute ``code`` as the notebook cell ``cell_id`` (none: a headless run)."""
        content = {
            "code": code,
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": False,
        }
        metadata = {"cellId": cell_id} if cell_id else {}
        msg = self.client.session.msg("execute_request", content, metadata=metadata)
        self.client.shell_channel.send(msg)
        stdout, shown, error = [], [], []
        for reply in self._messages(msg["header"]["msg_id"], timeout):
            kind, body = reply["msg_type"], reply["content"]
            if kind == "stream":
                stdout.append(body["text"])
            elif kind in ("display_data", "execute_result", "update_display_data"):
                shown.append(body["data"].get("text/plain", ""))
            elif kind == "error":
                error.append(f"{body['ename']}: {body['evalue']}")
        return Ran("".join(stdout), "\n".join(shown), "\n".join(error))

    def _messages(self, msg_id: str, timeout: float) -> Iterator[dict[str, Any]]:
        while True:
            msg = self.client.get_iopub_msg(timeout=timeout)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                self.client.get_shell_msg(timeout=timeout)
                return
            yield msg

    def restart(self) -> None:
        """The Restart button: a new process, then the notebook's first cell again."""
        self.manager.restart_kernel(now=True)
        self.client.wait_for_ready(timeout=60)
        self._set_up()

    def stop(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


@contextmanager
def kernels(sim_url: str, store: Path, cwd: Path, count: int = 1) -> Iterator[list[Kernel]]:
    """``count`` kernels sharing one store folder, shut down afterwards."""
    started: list[Kernel] = []
    try:
        for _ in range(count):
            started.append(Kernel(sim_url, store, cwd))
        yield started
    finally:
        for kernel in started:
            kernel.stop()
