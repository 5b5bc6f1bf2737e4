"""What a call gives back: images, text, tokens and cost, with a rich display of itself."""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from PIL import Image

from ..errors import BananaError
from ..gemini import usage as usage_mod
from ..gemini.models import describe_shape
from ..gemini.request import Request, request_document
from ..gemini.usage import Usage
from ..gemini.wire import OutImage, Reply, Source
from ..version import __version__
from . import drawing, stamp
from .credentials import Credentials
from .credentials import carries as carries_credentials
from .credentials import read as read_credentials
from .files import atomic_write
from .previews import Preview

_EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}
_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}


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
    batch: bool = False  # answered by a Batch API job: billed at the batch price

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
    def drafts(self) -> list[OutImage]:
        """The model's draft pictures (``--thoughts``), in the order they came: its sketches
        before the answer, never among ``outputs``, ``images`` or what ``save`` writes."""
        return [draft for reply in self.replies for draft in reply.drafts]

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
        return usage_mod.cost(
            self.request.model, self.usage, n_images, self.request.size, batch=self.batch
        )

    @property
    def all_notes(self) -> tuple[str, ...]:
        notes = self.request.notes + self.notes
        if self.failures:
            failed = len(self.failures)
            notes += (f"{failed} of {self.request.count} samples failed: {self.failures[0]}",)
        return notes

    def save(self, path: str | Path, *, overwrite: bool = False) -> Saved:
        """Write the images: to file ``path`` (several: ``FILE-1.jpg``, ``FILE-2.jpg``, …),
        or into folder ``path`` (an existing folder, a name without an extension, or one
        ending in ``/``) as ``banana-N`` in each reply's own format, numbered on from the
        files already there.

        A file in the reply's own format holds its bytes exactly as Google sent them, so
        the picture's Content Credentials stay valid (a PNG without them gains only a
        provenance chunk); another extension converts, and the returned ``Saved`` says so.
        An existing file (or link) is kept unless ``overwrite`` is true (which, in a folder,
        numbers from 1 again), and nothing is written if any target clashes. A disk or
        permission failure is a ``BananaError``.
        """
        targets = self._targets(Path(path).expanduser(), _is_folder(path), overwrite)
        clashes = [t for t in targets if t.exists() or t.is_symlink()]
        if clashes and not overwrite:
            raise BananaError(
                f"{clashes[0]} already exists: choose another name, or pass --overwrite."
            )
        info = self.provenance()
        saved = Saved(targets)
        try:
            for out, target in zip(self.outputs, targets, strict=True):
                target.parent.mkdir(parents=True, exist_ok=True)
                if note := _write_image(out, target, info):
                    saved.notes.append(note)
        except OSError as exc:
            raise BananaError(
                f"Could not save to {path} ({type(exc).__name__}: {exc.strerror or exc}); "
                "the images are still in the result (_banana): save them with .save(PATH)."
            ) from exc
        return saved

    @cached_property
    def credentials(self) -> list[Credentials | None]:
        """Each picture's Content Credentials (who signed them, AI-made), or ``None``."""
        return [read_credentials(out.data, out.mime_type) for out in self.outputs]

    def provenance(self) -> dict[str, Any]:
        """What ``save`` writes into each file: prompt, model and settings (never the key)."""
        doc = request_document(self.request)
        return {
            "prompt": self.request.text,
            **{k: doc[k] for k in ("model", "aspect", "size", "count", "search", "thoughts")},
            "pictures": [
                describe_shape(self.request.aspect, o.width, o.height) for o in self.outputs
            ],
            "references": [p for p in doc["parts"] if "image_sha256" in p],
            "sources": [vars(s) for s in self.sources],
            "chat": self.chat,
            "turn": self.turn,
            "generation_id": self.generation_id,
            "tool": f"nb_banana {__version__}",
        }

    def _targets(self, path: Path, folder: bool, overwrite: bool) -> list[Path]:
        outs = self.outputs
        if not folder:
            if len(outs) == 1:
                return [path]
            return [path.with_name(f"{path.stem}-{i + 1}{path.suffix}") for i in range(len(outs))]
        first = 1 if overwrite else _next_number(path)
        return [path / f"banana-{first + i}{_EXTENSIONS.get(o.mime_type, '.png')}"
                for i, o in enumerate(outs)]  # fmt: skip

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> tuple[dict, dict]:
        return drawing.bundle(self)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{o.width}×{o.height}" for o in self.outputs)
        return (
            f"<nb_banana.Result {len(self.outputs)} image(s) [{sizes}] from "
            f"{self.request.model.id}, {self.elapsed:.1f} s, ~{usage_mod.format_usd(self.cost)}>"
        )


class Saved(list[Path]):
    """The files a save wrote, in order, and what it had to say about them (a conversion)."""

    def __init__(self, paths: list[Path]) -> None:
        super().__init__(paths)
        self.notes: list[str] = []


def saved_line(paths: list[Path]) -> str:
    """What a save says: the file, or how many and the first and last of them, and any
    conversion, each distinct note once."""
    if len(paths) == 1:
        line = f"Saved {paths[0]}"
    else:
        line = f"Saved {len(paths)} images: {paths[0]} … {paths[-1].name}"
    notes = list(dict.fromkeys(getattr(paths, "notes", ())))
    return "; ".join([line, *notes])


def _is_folder(path: str | Path) -> bool:
    """``out/``, an existing folder, or a name with no extension: a folder to save into."""
    text = os.fspath(path)
    full = Path(text).expanduser()
    return text.endswith(("/", os.sep)) or full.is_dir() or not full.suffix


_NUMBERED = re.compile(r"banana-(\d+)\.[^.]+")


def _next_number(folder: Path) -> int:
    """One past the highest ``banana-N`` already in ``folder`` (links count), else 1."""
    try:
        names = [entry.name for entry in os.scandir(folder)]
    except OSError:  # not there yet (it is made when written), or not a folder
        return 1
    numbers = [int(m.group(1)) for name in names if (m := _NUMBERED.fullmatch(name))]
    return max(numbers, default=0) + 1


def _write_image(out: OutImage, target: Path, info: dict[str, Any]) -> str:
    """The reply's own format keeps its bytes as sent (a PNG without Content Credentials
    gains a provenance chunk beside its image data); another format converts, which is
    said in the note returned."""
    own = _FORMATS.get(out.mime_type, "PNG")
    wanted = Image.registered_extensions().get(target.suffix.lower(), own)
    if wanted == own:
        data = out.data
        if own == "PNG" and not carries_credentials(data, out.mime_type):
            data = stamp.png_with_provenance(data, info)
        atomic_write(target, data)
        return ""
    buffer = io.BytesIO()
    with Image.open(io.BytesIO(out.data)) as img:
        frame = img.convert("RGB") if wanted == "JPEG" and img.mode != "RGB" else img
        frame.save(buffer, format=wanted, exif=stamp.exif_with_provenance(info))
    atomic_write(target, buffer.getvalue())
    kept = _EXTENSIONS.get(out.mime_type, ".png")
    lost = (", without Google's Content Credentials"
            if carries_credentials(out.data, out.mime_type) else "")  # fmt: skip
    return (f"{target.name} converted from the reply's {own} to {wanted}{lost}; save as "
            f"{kept} to keep the picture exactly as sent")  # fmt: skip
