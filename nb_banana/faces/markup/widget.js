// The page side of nb_banana's markup widget: a toolbar and a canvas over the picture.
//
// The model's `marks` list is the whole state: this file only adds to it, drops from it and
// draws it. Points are in the original image's pixels (`size`), whatever size the picture is
// shown at. The picture that is sent is drawn in Python from the same list (render.py), so
// the drawing here is a preview of it: keep the shapes alike.

const TOOLS = [
  ["pen", "✎", "Pen: draw freehand"],
  ["rect", "▭", "Rectangle: drag a box"],
  ["ellipse", "◯", "Ellipse: drag a box"],
  ["arrow", "➜", "Arrow: drag from tail to tip"],
  ["text", "T", "Text: type a label, then click where it starts"],
];
const LABEL_MAX = 40; // marks.MAX_LABEL

function element(tag, className, attributes = {}) {
  const node = document.createElement(tag);
  node.className = className;
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  return node;
}

function button(className, text, title, attributes = {}) {
  const node = element("button", className, { type: "button", title, "aria-label": title, ...attributes });
  node.textContent = text;
  return node;
}

// One mark on a 2D context whose units are image pixels (render.py draws the same).
function drawMark(ctx, mark, metrics, palette) {
  const [fill, edge] = palette[mark.color];
  const points = mark.points;
  ctx.strokeStyle = fill;
  ctx.fillStyle = fill;
  ctx.lineWidth = metrics.line;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.beginPath();
  if (mark.kind === "pen") {
    ctx.moveTo(...points[0]);
    for (const point of points) ctx.lineTo(...point);
    ctx.stroke();
  } else if (mark.kind === "rect") {
    const [x, y, w, h] = box(points);
    ctx.lineJoin = "miter";
    ctx.strokeRect(x, y, w, h);
  } else if (mark.kind === "ellipse") {
    const [x, y, w, h] = box(points);
    ctx.ellipse(x + w / 2, y + h / 2, w / 2, h / 2, 0, 0, 2 * Math.PI);
    ctx.stroke();
  } else if (mark.kind === "arrow") {
    drawArrow(ctx, points, metrics);
  } else if (mark.kind === "text") {
    ctx.font = `${metrics.font}px sans-serif`;
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    ctx.lineWidth = 2 * metrics.outline; // a canvas stroke is centred on the glyph's edge
    ctx.strokeStyle = edge;
    ctx.strokeText(mark.text, ...points[0]);
    ctx.fillText(mark.text, ...points[0]);
  }
}

function box([[x0, y0], [x1, y1]]) {
  return [Math.min(x0, x1), Math.min(y0, y1), Math.abs(x1 - x0), Math.abs(y1 - y0)];
}

// A shaft to the head's base and a filled head whose point is the tip.
function drawArrow(ctx, [[x0, y0], [x1, y1]], metrics) {
  const length = Math.hypot(x1 - x0, y1 - y0);
  if (length === 0) return;
  const [ux, uy] = [(x1 - x0) / length, (y1 - y0) / length];
  const head = Math.min(metrics.head, length);
  const [bx, by] = [x1 - ux * head, y1 - uy * head];
  const half = head / 2;
  ctx.moveTo(x0, y0);
  ctx.lineTo(bx, by);
  ctx.stroke();
  ctx.beginPath();
  ctx.moveTo(x1, y1);
  ctx.lineTo(bx - uy * half, by + ux * half);
  ctx.lineTo(bx + uy * half, by - ux * half);
  ctx.closePath();
  ctx.fill();
}

function render({ model, el }) {
  const state = { tool: "rect", color: "red", draft: null };
  const [width, height] = model.get("size");
  const root = element("div", "nbm-root", { "data-lm-suppress-shortcuts": "true" });
  const bar = element("div", "nbm-bar");
  const stage = element("div", "nbm-stage");
  const picture = element("img", "nbm-picture", { alt: "the picture to mark up", draggable: "false" });
  const canvas = element("canvas", "nbm-canvas");
  const label = element("input", "nbm-label", {
    type: "text", maxlength: String(LABEL_MAX), placeholder: "label, then click the picture",
  });
  const undo = button("nbm-undo", "↶ Undo", "Undo the last mark");
  const clear = button("nbm-clear", "Clear", "Remove every mark");
  const info = element("span", "nbm-info");

  const toolButtons = TOOLS.map(([tool, text, title]) => {
    const node = button("nbm-tool", text, title, { "data-tool": tool });
    node.addEventListener("click", () => choose({ tool }));
    return node;
  });
  const colorButtons = Object.entries(model.get("palette")).map(([name, [fill]]) => {
    const node = button("nbm-swatch", "", name, { "data-color": name });
    node.style.background = fill;
    node.addEventListener("click", () => choose({ color: name }));
    return node;
  });

  function choose(change) {
    Object.assign(state, change);
    for (const node of toolButtons) node.setAttribute("aria-pressed", String(node.dataset.tool === state.tool));
    for (const node of colorButtons) node.setAttribute("aria-pressed", String(node.dataset.color === state.color));
    label.hidden = state.tool !== "text";
    if (state.tool === "text") label.focus();
  }

  function marks() {
    return model.get("marks");
  }

  function save(next) {
    model.set("marks", next);
    model.save_changes();
  }

  function redraw() {
    const ctx = canvas.getContext("2d");
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const scale = canvas.width / width;
    ctx.setTransform(scale, 0, 0, scale, 0, 0);
    const shown = state.draft ? [...marks(), state.draft] : marks();
    for (const mark of shown) drawMark(ctx, mark, model.get("metrics"), model.get("palette"));
    const count = marks().length;
    info.textContent = `${width}×${height} · ${count} mark${count === 1 ? "" : "s"}`;
    undo.disabled = clear.disabled = count === 0;
  }

  // The canvas's own pixels follow its size on screen (and the screen's density).
  function fit() {
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.max(1, Math.round(picture.clientWidth * ratio));
    canvas.height = Math.max(1, Math.round(picture.clientHeight * ratio));
    redraw();
  }

  function at(event) {
    const rect = canvas.getBoundingClientRect();
    return [
      Math.round(((event.clientX - rect.left) * width) / rect.width),
      Math.round(((event.clientY - rect.top) * height) / rect.height),
    ];
  }

  canvas.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    const point = at(event);
    if (state.tool === "text") {
      const text = label.value.trim();
      if (text) save([...marks(), { kind: "text", color: state.color, points: [point], text }]);
      else label.focus();
      return;
    }
    canvas.setPointerCapture(event.pointerId);
    const points = state.tool === "pen" ? [point] : [point, point];
    state.draft = { kind: state.tool, color: state.color, points };
    redraw();
  });
  canvas.addEventListener("pointermove", (event) => {
    const draft = state.draft;
    if (!draft) return;
    const point = at(event);
    if (draft.kind === "pen") {
      const [lx, ly] = draft.points[draft.points.length - 1];
      // Points closer than half a line add nothing visible, only bytes.
      if (Math.hypot(point[0] - lx, point[1] - ly) >= model.get("metrics").line / 2) draft.points.push(point);
    } else {
      draft.points[1] = point;
    }
    redraw();
  });
  const finish = () => {
    const draft = state.draft;
    state.draft = null;
    if (!draft) return;
    const [[x0, y0], [x1, y1]] = [draft.points[0], draft.points[draft.points.length - 1]];
    // A click without a drag draws nothing but a pen dot.
    if (draft.kind === "pen" || x0 !== x1 || y0 !== y1) save([...marks(), draft]);
    else redraw();
  };
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", () => {
    state.draft = null;
    redraw();
  });
  // Keys typed into the label are text, not notebook shortcuts.
  label.addEventListener("keydown", (event) => event.stopPropagation());
  undo.addEventListener("click", () => save(marks().slice(0, -1)));
  clear.addEventListener("click", () => save([]));

  const url = URL.createObjectURL(new Blob([model.get("picture")], { type: model.get("picture_type") }));
  picture.addEventListener("load", fit);
  picture.src = url;
  const resized = new ResizeObserver(fit);
  resized.observe(picture);
  model.on("change:marks", redraw);

  const tools = element("div", "nbm-group");
  tools.append(...toolButtons);
  const colors = element("div", "nbm-group");
  colors.append(...colorButtons);
  bar.append(tools, colors, label, undo, clear, info);
  stage.append(picture, canvas);
  root.append(bar, stage);
  el.append(root);
  choose({});

  return () => {
    resized.disconnect();
    model.off("change:marks", redraw);
    URL.revokeObjectURL(url);
  };
}

export default { render };
