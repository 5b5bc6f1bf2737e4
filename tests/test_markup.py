"""``nb_banana.markup``: marks as data, drawn with Pillow where they say and nowhere else, and
sent wherever an image goes (``{name}``, ``-i``, ``generate``, the panel), no browser needed."""

from __future__ import annotations

import base64
import io
from unittest import mock

import numpy as np
import pytest
from IPython.utils.capture import capture_output
from PIL import Image, ImageChops, ImageDraw
from traitlets import TraitError

import nb_banana
from nb_banana.context import settings
from nb_banana.errors import ImageInputError
from nb_banana.faces.markup import Markup, markup
from nb_banana.faces.markup.marks import PALETTE, metrics_for
from nb_banana.faces.markup.render import label_font
from nb_banana.faces.panel.references import reference
from nb_banana.gemini.images import encode_image, is_image_like

from . import test_panel
from .conftest import restart_kernel
from .kernels import kernels
from .test_panel import generate, sent_bytes, sent_parts, wait_until

panel = test_panel.panel  # the panel fixture, as test_panel.py drives it

RECT = {"kind": "rect", "color": "red", "points": [[100, 120], [300, 250]]}
ELLIPSE = {"kind": "ellipse", "color": "blue", "points": [[500, 400], [700, 600]]}
ARROW = {"kind": "arrow", "color": "yellow", "points": [[820, 100], [620, 300]]}
PEN = {"kind": "pen", "color": "green", "points": [[100, 600], [200, 700], [300, 620]]}
TEXT = {"kind": "text", "color": "white", "points": [[600, 120]], "text": "taller"}


@pytest.fixture(autouse=True)
def own_store(tmp_path):
    """Marks are kept in the store: each test has its own, never the working folder's."""
    s = settings()
    before, s.store = s.store, str(tmp_path / "store")
    yield
    settings().store = before


def gradient(width: int = 1024, height: int = 768) -> Image.Image:
    """A picture no mark colour appears in (blue is 128 throughout; no palette colour's is),
    so every pixel a mark covers differs from the original."""
    xs = np.linspace(0, 255, width, dtype=np.uint8)[None, :].repeat(height, 0)
    ys = np.linspace(0, 255, height, dtype=np.uint8)[:, None].repeat(width, 1)
    return Image.fromarray(np.dstack([xs, ys, np.full_like(xs, 128)]), "RGB")


def changed(before: Image.Image, after: Image.Image) -> np.ndarray:
    """Where two pictures of the same size differ, as a boolean mask (rows, columns)."""
    return np.asarray(ImageChops.difference(before.convert("RGB"), after.convert("RGB"))).any(2)


def box_of(mask: np.ndarray) -> tuple[int, int, int, int]:
    """The mask's bounding box as Pillow writes one: (left, top, right + 1, bottom + 1)."""
    rows, cols = np.nonzero(mask)
    return int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1


def inside(box: tuple[int, ...], outer: tuple[float, ...]) -> bool:
    return box[0] >= outer[0] and box[1] >= outer[1] and box[2] <= outer[2] and box[3] <= outer[3]


def points_box(mark: dict, grow: float = 0) -> tuple[float, float, float, float]:
    """The box through a mark's points (right and bottom inclusive, as a pixel box), grown."""
    xs, ys = [p[0] for p in mark["points"]], [p[1] for p in mark["points"]]
    return min(xs) - grow, min(ys) - grow, max(xs) + 1 + grow, max(ys) + 1 + grow


def text_box(mark: dict, size: tuple[int, int]) -> tuple[int, int, int, int]:
    m = metrics_for(*size)
    probe = ImageDraw.Draw(Image.new("RGB", size))
    return probe.textbbox(
        mark["points"][0],
        mark["text"],
        font=label_font(m.font),
        anchor="lm",
        stroke_width=m.outline,
    )


def test_a_rectangle_changes_exactly_its_outline_box_in_its_colour():
    photo = gradient()
    marked = markup(photo, [RECT])
    line = marked.metrics["line"]
    assert line == 4  # a 1024 px picture
    diff = changed(photo, marked.image)
    assert box_of(diff) == (98, 118, 303, 253)  # the dragged box, grown by half a line
    assert not diff[130:240, 110:290].any()  # an outline, not a filled box
    assert marked.image.getpixel((100, 180)) == Image.new(
        "RGB", (1, 1), PALETTE["red"][0]
    ).getpixel((0, 0))


def test_an_ellipse_changes_exactly_its_box():
    photo = gradient()
    diff = changed(photo, markup(photo, [ELLIPSE]).image)
    assert box_of(diff) == (498, 398, 703, 603)
    assert not diff[400, 500] and not diff[500, 600]  # corners and centre untouched


def test_an_arrow_reaches_its_tip_and_stays_within_its_head():
    photo = gradient()
    marked = markup(photo, [ARROW])
    diff = changed(photo, marked.image)
    half_head = marked.metrics["head"] / 2
    assert inside(box_of(diff), points_box(ARROW, half_head))
    assert inside(points_box(ARROW), box_of(diff))
    assert diff[300, 620]  # the tip itself


def test_a_pen_stroke_covers_its_points_and_no_more_than_half_a_line_around_them():
    photo = gradient()
    marked = markup(photo, [PEN])
    diff = changed(photo, marked.image)
    assert inside(box_of(diff), points_box(PEN, marked.metrics["line"] / 2))
    assert inside(points_box(PEN), box_of(diff))
    assert all(diff[y, x] for x, y in PEN["points"])


def test_a_label_is_drawn_within_its_text_box():
    photo = gradient()
    diff = changed(photo, markup(photo, [TEXT]).image)
    assert diff.sum() > 100
    assert inside(box_of(diff), text_box(TEXT, photo.size))


def test_several_marks_change_nothing_outside_their_boxes():
    photo = gradient()
    marks = [RECT, ELLIPSE, ARROW, PEN, TEXT]
    marked = markup(photo, marks)
    m = metrics_for(*photo.size)
    boxes = [
        (98, 118, 303, 253),
        (498, 398, 703, 603),
        points_box(ARROW, m.head / 2),
        points_box(PEN, m.line / 2),
        text_box(TEXT, photo.size),
    ]
    allowed = np.zeros((photo.height, photo.width), bool)
    for left, top, right, bottom in boxes:
        allowed[int(top) : int(np.ceil(bottom)), int(left) : int(np.ceil(right))] = True
    diff = changed(photo, marked.image)
    assert not (diff & ~allowed).any()
    for left, top, right, bottom in boxes:
        assert diff[int(top) : int(bottom), int(left) : int(right)].any()


def test_the_marked_picture_has_the_originals_size_and_the_original_is_unchanged():
    photo = gradient(1500, 1000)
    pixels = photo.tobytes()
    marked = markup(photo, [RECT, ARROW])
    assert marked.image.size == photo.size == marked.original.size
    assert marked.image.mode == "RGB"
    assert photo.tobytes() == pixels
    assert marked.original.tobytes() == pixels
    assert marked.image is not marked.image  # a new picture each time, never the original


def test_lines_grow_with_the_picture_so_marks_show_at_4k():
    assert metrics_for(64, 48).line == 2
    assert metrics_for(1024, 1024).line == 4
    assert metrics_for(4096, 2304).line == 16
    photo = Image.new("RGB", (3840, 2160), (40, 40, 40))
    marked = markup(
        photo, [{"kind": "rect", "color": "yellow", "points": [[1000, 1000], [2000, 1500]]}]
    )
    row = changed(photo, marked.image)[1200]
    assert row.sum() == 2 * 15  # two sides of the box, 15 px each (3840 / 256)


def test_undo_drops_the_newest_mark_and_clear_drops_them_all():
    photo = gradient(320, 240)
    marked = markup(photo)
    marked.marks = [RECT, ARROW, PEN]
    marked.undo()
    assert [m["kind"] for m in marked.marks] == ["rect", "arrow"]
    marked.clear()
    assert marked.marks == []
    assert not changed(photo, marked.image).any()
    marked.undo()  # nothing left: nothing happens
    assert marked.marks == []


def test_marks_from_the_page_are_rounded_to_pixels():
    marked = markup(gradient(320, 240))
    marked.marks = [{"kind": "pen", "color": "red", "points": [[10.4, 20.6], [30, 40.5]]}]
    assert marked.marks == [{"kind": "pen", "color": "red", "points": [[10, 21], [30, 40]]}]


def test_reopening_with_the_marks_gives_the_same_picture():
    photo = gradient(640, 480)
    first = markup(photo, [RECT, TEXT])
    again = markup(photo, first.marks)
    assert again.image.tobytes() == first.image.tobytes()
    again.marks = [*again.marks, PEN]
    assert len(first.marks) == 2  # editing the new one leaves the first alone


@pytest.mark.parametrize(
    ("mark", "says"),
    [
        ({"kind": "star", "color": "red", "points": [[1, 1]]}, "kind 'star'"),
        ({"kind": "rect", "color": "pink", "points": [[1, 1], [2, 2]]}, "color 'pink'"),
        ({"kind": "rect", "color": "red", "points": [[1, 1]]}, "a rect takes 2 points, not 1"),
        ({"kind": "arrow", "color": "red", "points": [[1, float("nan")], [2, 2]]}, "a point"),
        ({"kind": "text", "color": "red", "points": [[1, 1]]}, "needs a label"),
        ({"kind": "text", "color": "red", "points": [[1, 1]], "text": "x" * 41}, "at most 40"),
        ({"kind": "pen", "color": "red", "points": "10,10"}, "list of [x, y]"),
    ],
)
def test_a_bad_mark_is_refused_with_the_reason_and_the_marks_stay(mark, says):
    marked = markup(gradient(64, 48), [PEN])
    with pytest.raises(TraitError, match="mark 2 of 2") as refused:
        marked.marks = [PEN, mark]
    assert says in str(refused.value)
    assert marked.marks == [PEN]


def test_every_kind_of_image_nb_banana_takes_can_be_marked_up(tmp_path):
    grey = Image.new("L", (40, 30), 90)
    clear = Image.new("RGBA", (40, 30), (0, 0, 0, 0))
    path = tmp_path / "photo.png"
    gradient(40, 30).save(path)
    mark = {"kind": "rect", "color": "red", "points": [[5, 5], [20, 20]]}
    assert markup(grey, [mark]).image.mode == "RGB"  # grey gets colour
    on_clear = markup(clear, [mark]).image
    assert on_clear.mode == "RGBA" and on_clear.getpixel((0, 0))[3] == 0
    assert markup(np.zeros((30, 40, 3), np.uint8)).image.size == (40, 30)
    assert markup(path).image.tobytes() == gradient(40, 30).tobytes()
    assert markup(path.read_bytes()).original.size == (40, 30)


def test_several_pictures_are_refused_with_the_way_to_pick_one():
    with pytest.raises(ImageInputError, match=r"mark up one picture at a time.*\[0\]"):
        markup([gradient(8, 8), gradient(8, 8)])
    with pytest.raises(ImageInputError, match="not an image"):
        markup("not a picture")


def test_nb_banana_markup_is_the_function_even_after_its_package_is_imported():
    import nb_banana.faces.markup

    assert nb_banana.markup is markup
    assert repr(markup(gradient(64, 48), [PEN])) == "<nb_banana markup: 64×48, 1 mark(s)>"


def test_an_object_with_a_banana_image_method_is_sent_as_that_image():
    class Framed:
        def _banana_image_(self) -> Image.Image:
            return Image.new("RGB", (12, 10), "navy")

    assert is_image_like(Framed())
    assert encode_image(Framed(), "framed").width == 12
    assert not is_image_like(mock.Mock())  # answers every attribute, but has no such method
    assert is_image_like(markup(gradient(8, 8)))


def sent_image(sim, index: int = 1) -> Image.Image:
    parts = sim.requests[-1].body["contents"][-1]["parts"]
    inline = parts[index].get("inlineData") or parts[index].get("inline_data")
    data = inline["data"]
    return Image.open(io.BytesIO(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))))


def test_a_marked_reference_goes_on_the_wire_as_the_marked_picture(ip, sim):
    photo = gradient(800, 600)
    ip.user_ns["marked"] = markup(photo, [RECT, ARROW])
    with capture_output():
        ip.run_cell_magic("banana", "", "make what is marked stand out: {marked}")
    sent = sent_image(sim)
    assert sent.size == photo.size
    assert sent.tobytes() == ip.user_ns["marked"].image.tobytes()
    assert changed(photo, sent).any()


def test_dash_i_generate_and_a_saved_image_send_the_marked_picture_too(ip, sim):
    photo = gradient(400, 300)
    marked = markup(photo, [RECT])
    ip.user_ns["marked"] = marked
    with capture_output():
        ip.run_cell_magic("banana", "-i marked", "make the boxed part red")
    assert sent_image(sim).tobytes() == marked.image.tobytes()
    nb_banana.generate("the same, in winter", marked)
    assert sent_image(sim).tobytes() == marked.image.tobytes()
    ip.user_ns["snapshot"] = marked.image  # a plain PIL image from here on
    marked.clear()
    with capture_output():
        ip.run_cell_magic("banana", "", "the same, at night: {snapshot}")
    assert changed(photo, sent_image(sim)).any()


def test_marking_up_a_panel_reference_sends_the_marked_picture_and_keeps_the_original(panel, sim):
    photo = gradient(320, 240)
    tray = panel.references
    tray.add(reference("photo", photo))
    chip = tray.chosen_box.children[0]
    chip.children[2].click()  # Mark up
    panel.wait(10)
    marked = tray.chosen[0].value
    assert isinstance(marked, Markup) and marked in tray.editor.children
    assert tray.editor.layout.display != "none"
    marked.marks = [RECT]

    generate(panel, "make the boxed part glow")
    sent = Image.open(io.BytesIO(sent_bytes(sent_parts(sim)[1])))
    assert sent.tobytes() == marked.image.tobytes()
    assert marked.original.tobytes() == photo.tobytes()

    done = tray.editor.children[0].children[2]
    before = tray.chosen_box.children[0].children[0].value
    done.click()
    panel.wait(10)
    assert tray.editor.layout.display == "none"
    assert tray.chosen[0].value is marked
    assert tray.chosen_box.children[0].children[0].value != before  # the thumbnail shows marks


def test_mark_up_on_a_gallery_picture_makes_it_a_reference_to_draw_on(panel, ip, sim):
    generate(panel, "a teapot")
    card = panel.gallery.widget.children[0].children[1].children[0]
    card.children[5].children[0].click()  # Mark up
    panel.wait(10)
    assert wait_until(lambda: panel.references.chosen)
    ref = panel.references.chosen[0]
    assert ref.name == "result1" and isinstance(ref.value, Markup)
    assert ref.value.original.size == ip.user_ns["_banana"].image.size
    assert ref.value in panel.references.editor.children


def test_re_running_the_cell_or_restarting_reopens_the_picture_with_its_marks(ip, sim):
    photo = gradient(640, 480)
    drawn = markup(photo)
    assert drawn.marks == []
    drawn.marks = [RECT]  # as the page sets them
    drawn.marks = [RECT, TEXT]
    again = markup(photo.copy())  # the cell run again: the same pixels, a new object
    assert again.marks == drawn.marks and again.image.tobytes() == drawn.image.tobytes()
    restart_kernel()
    assert markup(photo).marks == drawn.marks
    assert markup(photo, []).marks == []  # asked to start clean
    assert markup(gradient(640, 481)).marks == []  # another picture has marks of its own


def test_marks_still_work_when_the_store_cannot_keep_them(ip, sim, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    settings().store = str(blocker)
    drawn = markup(gradient(320, 240))
    drawn.marks = [RECT]
    assert drawn.image.size == (320, 240) and len(drawn.marks) == 1


def test_two_mark_ups_of_one_picture_keep_their_own_marks_across_a_restart(sim, tmp_path):
    """``window = markup(photo)`` and ``door = markup(photo)`` in a real kernel: each keeps
    its marks, so after a restart the cell that sends ``{window}`` is answered from the
    store instead of asking again with the door's arrow."""
    cells = [
        ("photo", "import nb_banana\nfrom PIL import Image\n"
                  "photo = Image.radial_gradient('L').convert('RGB').resize((1024, 768))"),
        ("window", "window = nb_banana.markup(photo)"),
        ("door", "door = nb_banana.markup(photo)"),
        ("ask", "%%banana\nMake the marked window round: {window}"),
    ]  # fmt: skip
    with kernels(sim.url, tmp_path / "store", tmp_path) as (kernel,):
        for cell_id, code in cells[:3]:
            assert not kernel.run(code, cell_id).error
        assert not kernel.run(f"window.marks = [{RECT!r}]", "draw-window").error
        assert not kernel.run(f"door.marks = [{ARROW!r}]", "draw-door").error
        assert not kernel.run(cells[3][1], "ask").error
        calls = sum(r.method == "POST" for r in sim.requests)
        kernel.restart()
        for cell_id, code in cells:
            assert not kernel.run(code, cell_id).error
        shown = kernel.run(f"print(window.marks == [{RECT!r}], door.marks == [{ARROW!r}])")
        assert shown.stdout.split() == ["True", "True"]
        assert sum(r.method == "POST" for r in sim.requests) == calls
        assert kernel.run("print(_banana.cached)").stdout.strip() == "True"


def test_mark_ups_made_in_one_cell_each_keep_their_own(ip, sim):
    photo = gradient(640, 480)
    ip.user_ns.update(photo=photo, markup=markup)
    ip.run_cell("a, b = markup(photo), markup(photo)", cell_id="pair")
    ip.user_ns["a"].marks, ip.user_ns["b"].marks = [RECT], [TEXT]
    ip.run_cell("a, b = markup(photo), markup(photo)", cell_id="pair")
    assert ip.user_ns["a"].marks == [RECT] and ip.user_ns["b"].marks == [TEXT]


def test_marks_kept_by_the_picture_in_an_older_store_are_still_opened(ip, sim):
    """A store from before marks were kept per mark-up holds them by the picture's digest:
    a mark-up opens with them and keeps them as its own from then on."""
    from nb_banana.context import open_store
    from nb_banana.faces.markup.widget import _digest

    photo = gradient(640, 480)
    store = open_store(settings().store)
    store.save_marks(_digest(photo), [ELLIPSE])
    ip.user_ns.update(photo=photo, markup=markup)
    ip.run_cell("window = markup(photo)", cell_id="old")
    assert ip.user_ns["window"].marks == [ELLIPSE]
    store.save_marks(_digest(photo), [PEN])  # drawn on by a mark-up outside any cell
    ip.run_cell("window = markup(photo)", cell_id="old")
    assert ip.user_ns["window"].marks == [ELLIPSE]
