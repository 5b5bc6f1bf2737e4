"""What a call gives back: images, text, tokens and cost, with a rich display of itself."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from PIL import Image

from . import stamp
from . import usage as usage_mod
from .errors import BananaError
from .files import atomic_write
from .previews import Preview
from .request import Request
from .usage import Usage
from .wire import OutImage, Reply, Source

_EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}


@dataclass(eq=False)
class Result:
    """The answer to one cell: every sample's images in order, and what it cost.

    ``images`` decodes lazily (a PIL image per output); display uses the bytes as received,
    so showing a result never re-encodes it.
    """

    request: Request
    replies: tuple[Reply, ...]
    elapsed: float
    failures: tuple[BananaError, ...] = ()
    chat: str | None = None
    turn: int | None = None
    simulated: bool = False
    cached: bool = False
    previews: tuple[Preview, ...] = ()
    generation_id: int | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def outputs(self) -> list[OutImage]:
        return [image for reply in self.replies for image in reply.images]

    @cached_property
    def images(self) -> list[Image.Image]:
        decoded = []
        for out in self.outputs:
            img = Image.open(io.BytesIO(out.data))
            img.load()
            decoded.append(img)
        return decoded

    @property
    def image(self) -> Image.Image:
        """The first image (most cells make one)."""
        return self.images[0]

    @property
    def text(self) -> str:
        return "\n\n".join(reply.text for reply in self.replies if reply.text)

    @property
    def thoughts(self) -> str:
        return "\n\n".join(reply.thoughts for reply in self.replies if reply.thoughts)

    @property
    def sources(self) -> list[Source]:
        """The web pages Google Search gave the model (``--search``), each once."""
        seen: dict[str, Source] = {}
        for reply in self.replies:
            for source in reply.grounding.sources if reply.grounding else ():
                seen.setdefault(source.uri, source)
        return list(seen.values())

    @property
    def usage(self) -> Usage:
        total = Usage()
        for reply in self.replies:
            total = total + reply.usage
        return total

    @property
    def cost(self) -> float:
        """Estimated USD from the model table's prices; nothing for an answer from the cache."""
        if self.cached:
            return 0.0
        n_images = len(self.outputs)
        return usage_mod.cost(self.request.model, self.usage, n_images, self.request.size)

    @property
    def all_notes(self) -> tuple[str, ...]:
        notes = self.request.notes + self.notes
        if self.failures:
            failed = len(self.failures)
            notes += (f"{failed} of {self.request.count} samples failed: {self.failures[0]}",)
        return notes

    def save(self, path: str | Path, *, overwrite: bool = False) -> list[Path]:
        """Write the images: to ``path`` for one image, into folder ``path`` for several.

        The file's extension picks the format (converted if it differs from the reply's);
        an existing file (or link) is kept unless ``overwrite`` is true, and nothing is
        written if any target clashes. A disk or permission failure is a ``BananaError``.
        """
        targets = self._targets(Path(path).expanduser())
        clashes = [t for t in targets if t.exists() or t.is_symlink()]
        if clashes and not overwrite:
            raise BananaError(
                f"{clashes[0]} already exists: choose another name, or pass --overwrite."
            )
        info = self.provenance()
        try:
            for out, target in zip(self.outputs, targets, strict=True):
                target.parent.mkdir(parents=True, exist_ok=True)
                _write_image(out, target, info)
        except OSError as exc:
            raise BananaError(
                f"Could not save to {path} ({type(exc).__name__}: {exc.strerror or exc}); "
                "the images are still in the result (_banana): save them with .save(PATH)."
            ) from exc
        return targets

    def provenance(self) -> dict[str, Any]:
        """What ``save`` writes into each file: prompt, model and settings (never the key)."""
        from . import __version__
        from .cache import request_document

        doc = request_document(self.request)
        return {
            "prompt": self.request.text,
            **{k: doc[k] for k in ("model", "aspect", "size", "count", "search", "thoughts")},
            "references": [p for p in doc["parts"] if "image_sha256" in p],
            "sources": [vars(s) for s in self.sources],
            "chat": self.chat,
            "turn": self.turn,
            "generation_id": self.generation_id,
            "tool": f"nb_banana {__version__}",
        }

    def _targets(self, path: Path) -> list[Path]:
        outs = self.outputs
        if len(outs) == 1 and not path.is_dir() and path.suffix:
            return [path]
        folder = path
        return [folder / f"banana-{i + 1}{_EXTENSIONS.get(o.mime_type, '.png')}"
                for i, o in enumerate(outs)]  # fmt: skip

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> tuple[dict, dict]:
        from .display import result_bundle

        return result_bundle(self)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{o.width}×{o.height}" for o in self.outputs)
        return (
            f"<nb_banana.Result {len(self.outputs)} image(s) [{sizes}] from "
            f"{self.request.model.id}, {self.elapsed:.1f} s, ~{usage_mod.format_usd(self.cost)}>"
        )


def _write_image(out: OutImage, target: Path, info: dict[str, Any]) -> None:
    """PNG to PNG keeps the bytes as received (plus a provenance chunk); else convert."""
    wanted = Image.registered_extensions().get(target.suffix.lower(), "PNG")
    if wanted == "PNG" and out.mime_type == "image/png":
        data = stamp.png_with_provenance(out.data, info)
    else:
        buffer = io.BytesIO()
        with Image.open(io.BytesIO(out.data)) as img:
            frame = img.convert("RGB") if wanted == "JPEG" and img.mode != "RGB" else img
            frame.save(buffer, format=wanted, exif=stamp.exif_with_provenance(info))
        data = buffer.getvalue()
    atomic_write(target, data)
