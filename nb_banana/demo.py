"""``python -m nb_banana.demo NOTEBOOK OUTDIR``: run a notebook headless, write it as HTML.

This is what ``make demo`` runs. The notebook decides where calls go (its first cell runs
``%banana offline --if-no-key``), so with a key set the demo uses Gemini.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path


def run(notebook: Path, out_dir: Path) -> Path:
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    nb = nbformat.read(notebook, as_version=4)
    with tempfile.TemporaryDirectory() as sockets:
        # Local sockets, not TCP: no kernel port is opened, and ipykernel has no reason
        # to warn that its traffic is unencrypted.
        config = Config()
        config.KernelManager.transport = "ipc"
        config.KernelManager.ip = os.path.join(sockets, "kernel")
        client = NotebookClient(
            nb,
            config=config,
            timeout=600,
            kernel_name="python3",
            resources={"metadata": {"path": str(notebook.parent)}},
        )
        client.execute()
    out_dir.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out_dir / notebook.name)
    body, _ = HTMLExporter().from_notebook_node(nb)
    html_path = out_dir / notebook.with_suffix(".html").name
    html_path.write_text(body, encoding="utf-8")
    return html_path


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m nb_banana.demo NOTEBOOK OUTDIR", file=sys.stderr)
        return 2
    has_key = any(os.environ.get(n) for n in ("GEMINI_API_KEY", "GOOGLE_API_KEY"))
    print(f"Running {argv[0]} on {'Gemini' if has_key else 'the offline simulator (no key set)'}…")
    html_path = run(Path(argv[0]), Path(argv[1]))
    print(f"Wrote {html_path} ({html_path.stat().st_size / 1e6:.1f} MB, images included)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
