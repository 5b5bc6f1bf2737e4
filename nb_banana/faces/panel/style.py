"""How the panel looks and how it words its status line.

Colours come from JupyterLab's CSS variables (Notebook 7 has the same ones), so the panel
follows the light and dark themes; every rule is scoped under ``.nb-banana-panel``.
"""

from __future__ import annotations

import html

import ipywidgets as widgets

from ...errors import BananaError
from ...gemini import secrets

ROOT_CLASS = "nb-banana-panel"

CSS = f"""
.{ROOT_CLASS} {{
  color: var(--jp-ui-font-color1);
  font-family: var(--jp-ui-font-family);
  background: var(--jp-layout-color1);
  border: 1px solid var(--jp-border-color1);
  border-radius: 6px;
  padding: 10px 12px;
  gap: 8px;
  max-width: 960px;
  box-sizing: border-box;
}}
.{ROOT_CLASS} .nbb-title {{ font-size: var(--jp-ui-font-size2); font-weight: 600; }}
.{ROOT_CLASS} .nbb-row {{ gap: 6px; align-items: center; flex-wrap: wrap; }}
.{ROOT_CLASS} .nbb-section {{
  background: var(--jp-layout-color2);
  border-radius: 4px;
  padding: 6px 8px;
  gap: 6px;
}}
.{ROOT_CLASS} .nbb-strip {{ gap: 6px; flex-wrap: wrap; align-items: flex-start; }}
.{ROOT_CLASS} .nbb-chip {{
  background: var(--jp-layout-color1);
  border: 1px solid var(--jp-border-color1);
  border-radius: 4px;
  padding: 4px;
  gap: 2px;
  align-items: center;
}}
.{ROOT_CLASS} .nbb-chip button {{ padding: 0 4px; font-size: var(--jp-ui-font-size0); }}
.{ROOT_CLASS} .nbb-chip .widget-html-content {{ font-size: var(--jp-ui-font-size0); }}
.{ROOT_CLASS} .nbb-thumb {{ width: 72px; height: 72px; object-fit: cover; border-radius: 3px; }}
.{ROOT_CLASS} .nbb-card {{
  width: 300px;
  background: var(--jp-layout-color1);
  border: 1px solid var(--jp-border-color1);
  border-radius: 6px;
  padding: 6px;
  gap: 4px;
}}
.{ROOT_CLASS} .nbb-card .nbb-row {{ flex-wrap: nowrap; }}
.{ROOT_CLASS} .nbb-card .nbb-row .widget-button {{ flex: 1 1 auto; }}
.{ROOT_CLASS} .nbb-card img.nbb-picture {{ width: 100%; height: auto; border-radius: 4px; }}
.{ROOT_CLASS} .nbb-group {{ gap: 6px; }}
.{ROOT_CLASS} .nbb-muted, .{ROOT_CLASS} .nbb-muted .widget-html-content {{
  color: var(--jp-ui-font-color2);
  font-size: var(--jp-ui-font-size0);
  line-height: 1.4;
}}
.{ROOT_CLASS} .nbb-text {{ white-space: pre-wrap; line-height: 1.4; }}
.{ROOT_CLASS} .nbb-status {{ font-size: var(--jp-ui-font-size1); line-height: 1.4; }}
.{ROOT_CLASS} .nbb-status.nbb-busy {{ color: var(--jp-ui-font-color2); }}
.{ROOT_CLASS} .nbb-status.nbb-ok {{ color: var(--jp-success-color1); }}
.{ROOT_CLASS} .nbb-status.nbb-error {{ color: var(--jp-error-color1); }}
.{ROOT_CLASS} .nbb-over {{ color: var(--jp-warn-color1); }}
"""


def style_widget() -> widgets.HTML:
    """The ``<style>`` block; hidden, since a style element applies wherever it sits."""
    return widgets.HTML(f"<style>{CSS}</style>", layout=widgets.Layout(display="none"))


def styled(widget: widgets.DOMWidget, *classes: str) -> widgets.DOMWidget:
    for name in classes:
        widget.add_class(name)
    return widget


def status_html(text: str, kind: str) -> str:
    """The status line: ``kind`` is idle, busy, ok or error (it picks the colour)."""
    return f'<div class="nbb-status nbb-{kind}">{html.escape(text)}</div>'


def one_line(exc: BaseException) -> str:
    """What the panel shows for a failure: the error's own message, on one line, key masked."""
    if isinstance(exc, BananaError):
        text = str(exc)
    else:
        text = (
            f"Unexpected error ({type(exc).__name__}: {exc}) — `%banana error` shows the details."
        )
    return secrets.redact(" ".join(text.split()))
