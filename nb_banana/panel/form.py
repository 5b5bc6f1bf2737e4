"""The prompt and the options, offering only the choices the chosen model can take."""

from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as widgets

from ..models import ASPECT_RATIOS, MODELS, ModelSpec, resolve_model
from ..settings import settings
from .style import styled

_WIDE = {"description_width": "initial"}


@dataclass(frozen=True)
class Options:
    """The option widgets' values at the moment of a click."""

    model: str
    aspect: str
    size: str
    count: int
    search: bool
    thoughts: bool


class Form:
    """Prompt box and option row; starts from ``%config Banana.…`` and follows the model."""

    def __init__(self) -> None:
        s = settings()
        self.prompt = widgets.Textarea(
            placeholder="Describe the picture, or what to change in it…",
            rows=3,
            layout=widgets.Layout(width="100%"),
        )
        self.model = widgets.Dropdown(
            options=model_choices(s.model), value=s.model, description="Model", style=_WIDE
        )
        self.aspect = widgets.Dropdown(
            options=ASPECT_RATIOS, value=s.aspect, description="Aspect", style=_WIDE,
            layout=widgets.Layout(width="130px"),
        )  # fmt: skip
        self.size = widgets.Dropdown(
            options=("1K",), value="1K", description="Size", style=_WIDE,
            layout=widgets.Layout(width="110px"),
        )  # fmt: skip
        self.count = widgets.BoundedIntText(
            value=s.count, min=1, max=16, description="Count", style=_WIDE,
            layout=widgets.Layout(width="110px"),
        )  # fmt: skip
        self.search = widgets.Checkbox(description="Search grounding", indent=False)
        self.thoughts = widgets.Checkbox(value=s.thoughts, description="Thoughts", indent=False)
        for box in (self.search, self.thoughts):
            box.layout.width = "auto"
        self._wanted_size = s.size
        self.model.observe(self._follow_model, names="value")
        self.size.observe(self._remember_size, names="value")
        self._follow_model()
        row = widgets.HBox(
            [self.model, self.aspect, self.size, self.count, self.search, self.thoughts]
        )
        self.widget = widgets.VBox([self.prompt, styled(row, "nbb-row")])

    def spec(self) -> ModelSpec:
        return resolve_model(self.model.value)

    def options(self) -> Options:
        return Options(
            model=self.model.value,
            aspect=self.aspect.value,
            size=self.size.value,
            count=self.count.value,
            search=self.search.value and not self.search.disabled,
            thoughts=self.thoughts.value and not self.thoughts.disabled,
        )

    def _follow_model(self, _change: object = None) -> None:
        """Offer the model's sizes only, and switch off what it does not have."""
        spec = self.spec()
        wanted = self._wanted_size
        self.size.options = spec.sizes
        self.size.value = wanted if wanted in spec.sizes else spec.sizes[0]
        self._wanted_size = wanted
        self.size.disabled = len(spec.sizes) == 1
        self.size.tooltip = f"{spec.name} makes {'/'.join(spec.sizes)} images"
        _offer(self.search, spec.search, f"{spec.name} has no Google Search grounding")
        _offer(self.thoughts, spec.thinking, f"{spec.name} is not a thinking model")

    def _remember_size(self, change: dict) -> None:
        """Keep the size the user picked, so flash -> pro -> flash -> pro gives it back."""
        if not self.size.disabled and change["new"] is not None:
            self._wanted_size = change["new"]


def model_choices(current: str) -> list[tuple[str, str]]:
    """``name · id`` labels for the table's models, plus an unlisted id set in the settings."""
    choices = [(f"{m.name} · {m.id}", m.id) for m in MODELS]
    if current not in {m.id for m in MODELS}:
        choices.append((current, current))
    return choices


def _offer(box: widgets.Checkbox, available: bool, why_not: str) -> None:
    box.disabled = not available
    box.tooltip = "" if available else why_not
    if not available:
        box.value = False
