"""The prompt and the options, offering only the choices the chosen model can take."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import ipywidgets as widgets

from ...context import settings
from ...gemini.models import (
    API_DEFAULT_SIZE,
    ASPECT_RATIOS,
    IMAGE_SIZES,
    SEARCH_KINDS,
    THINKING_LEVELS,
    ModelSpec,
    current_models,
    live_model,
)
from ...turns import catalog
from .style import styled

_WIDE = {"description_width": "initial"}


@dataclass(frozen=True)
class Options:
    """The option widgets' values at the moment of a click."""

    model: str
    aspect: str
    size: str
    count: int
    search: tuple[str, ...]
    thoughts: bool
    thinking: str
    models: tuple[str, ...] | None = None  # "Compare models" ticked: the models, in order


# The first choice of the ratio and size menus: send none.
_MODELS_CHOICE = "model's choice"
_API_DEFAULT = f"default ({API_DEFAULT_SIZE})"


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
            options=((_MODELS_CHOICE, ""),), value="", description="Aspect", style=_WIDE,
            layout=widgets.Layout(width="190px"),
            tooltip="The model's choice keeps an edited picture's shape; a new one is square",
        )  # fmt: skip
        self.size = widgets.Dropdown(
            options=((_API_DEFAULT, ""),), value="", description="Size", style=_WIDE,
            layout=widgets.Layout(width="150px"),
        )  # fmt: skip
        self.count = widgets.BoundedIntText(
            value=s.count, min=1, max=16, description="Count", style=_WIDE,
            layout=widgets.Layout(width="110px"),
        )  # fmt: skip
        self.thinking = widgets.Dropdown(
            options=(("model's own", ""), ("minimal", "minimal"), ("high", "high")),
            value=s.thinking, description="Thinking", style=_WIDE,
            layout=widgets.Layout(width="190px"),
        )  # fmt: skip
        self.search = widgets.Checkbox(description="Web search", indent=False)
        self.image_search = widgets.Checkbox(description="Image search", indent=False)
        self.thoughts = widgets.Checkbox(value=s.thoughts, description="Thoughts", indent=False)
        for box in (self.search, self.image_search, self.thoughts):
            box.layout.width = "auto"
        self.compare = widgets.Checkbox(
            description="Compare models", indent=False, layout=widgets.Layout(width="auto"),
            tooltip="Send the prompt to each model chosen at once: a row each",
        )  # fmt: skip
        self.compared = widgets.SelectMultiple(
            options=model_choices(s.model), value=tuple(m.id for m in current_models()),
            rows=3, description="Models", style=_WIDE, layout=widgets.Layout(display="none"),
        )  # fmt: skip
        self._wanted = {"size": s.size, "aspect": s.aspect}
        self.compare.observe(self._follow_model, names="value")
        self.compared.observe(self._follow_model, names="value")
        self.model.observe(self._follow_model, names="value")
        self.size.observe(self._remember, names="value")
        self.aspect.observe(self._remember, names="value")
        self._follow_model()
        row = widgets.HBox([
            self.model, self.aspect, self.size, self.count, self.thinking, self.search,
            self.image_search, self.thoughts, self.compare,
        ])  # fmt: skip
        self.widget = widgets.VBox([self.prompt, styled(row, "nbb-row"), self.compared])

    def spec(self) -> ModelSpec:
        """The model the options follow: the one chosen, or, comparing, any model compared."""
        if self.compare.value and self.compared.value:
            return any_of([live_model(model)[0] for model in self._compared()])
        return live_model(self.model.value)[0]

    def use_model(self, model_id: str) -> None:
        """Stop comparing and choose one model (a comparison's row to carry on)."""
        if model_id not in {value for _, value in self.model.options}:
            self.model.options = model_choices(model_id)
        self.compare.value = False
        self.model.value = model_id

    def _compared(self) -> tuple[str, ...]:
        """The models ticked, in the list's order (the order the rows are shown in)."""
        return tuple(value for _, value in self.compared.options if value in self.compared.value)

    def options(self) -> Options:
        boxes = ((self.search, "web"), (self.image_search, "image"))
        return Options(
            model=self.model.value,
            aspect=self.aspect.value,
            size=self.size.value,
            count=self.count.value,
            search=tuple(kind for box, kind in boxes if box.value and not box.disabled),
            thoughts=self.thoughts.value and not self.thoughts.disabled,
            thinking="" if self.thinking.disabled else self.thinking.value,
            models=self._compared() if self.compare.value else None,
        )

    def _follow_model(self, _change: object = None) -> None:
        """Offer the model's sizes and ratios only, and switch off what it does not have."""
        self.model.disabled = self.compare.value
        self.compared.layout.display = "" if self.compare.value else "none"
        spec = self.spec()
        _choose(self.size, _API_DEFAULT, spec.sizes, self._wanted["size"])
        _choose(self.aspect, _MODELS_CHOICE, spec.aspects, self._wanted["aspect"])
        self.size.tooltip = f"{spec.name} makes {'/'.join(spec.sizes)} images"
        self.thinking.disabled = not spec.thinking_levels
        self.thinking.tooltip = (
            "" if spec.thinking_levels else f"{spec.name} takes no thinking level"
        )
        _offer(self.search, "web" in spec.search, f"{spec.name} has no web search grounding")
        _offer(self.image_search, "image" in spec.search, f"{spec.name} has no image search")
        _offer(self.thoughts, spec.thinking, f"{spec.name} is not a thinking model")

    def _remember(self, change: dict) -> None:
        """Keep what the user picked, so lite -> pro -> lite -> pro gives the 4K back."""
        if not change["owner"].disabled and change["new"] is not None:
            self._wanted[change["owner"].description.lower()] = change["new"]

    def refresh_models(self) -> None:
        """Add models the API listed after the panel opened (``catalog``)."""
        self.model.options = model_choices(self.model.value)
        chosen = self.compared.value
        self.compared.options = model_choices(self.model.value)
        self.compared.value = chosen


def _choose(box: widgets.Dropdown, unset: str, offered: tuple[str, ...], wanted: str) -> None:
    """Offer ``unset`` (send nothing: the model's or the API's choice, the default) and the
    model's own values, keeping the user's wish if the model has it (without recording the
    fallback as a new wish)."""
    box.disabled = True
    box.options = ((unset, ""), *((value, value) for value in offered))
    box.value = wanted if wanted in offered else ""
    box.disabled = len(offered) <= 1


def model_choices(current: str) -> list[tuple[str, str]]:
    """``name · id`` labels: the table's current models, image models the API lists that
    the table lacks (once its list has come), and an unlisted id set in the settings."""
    choices = [(f"{m.name} · {m.id}", m.id) for m in current_models()]
    listed = catalog.known()
    if listed is not None:
        choices += [(f"{m.name} · {m.id} (new)", m.id) for m in listed.unknown()]
    if current not in {value for _, value in choices}:
        choices.append((current, current))
    return choices


def any_of(specs: Sequence[ModelSpec]) -> ModelSpec:
    """What any of the models compared can take: the options to offer while comparing (a
    model that lacks one drops it on its own row, with a note)."""

    def offered(every: tuple[str, ...], field: str) -> tuple[str, ...]:
        return tuple(v for v in every if any(v in getattr(spec, field) for spec in specs))

    return dataclasses.replace(
        specs[0], name="Any model compared", sizes=offered(IMAGE_SIZES, "sizes"),
        aspects=offered(ASPECT_RATIOS, "aspects"),
        thinking_levels=offered(THINKING_LEVELS, "thinking_levels"),
        search=offered(SEARCH_KINDS, "search"), thinking=any(s.thinking for s in specs),
        max_input_images=max(s.max_input_images for s in specs),
    )  # fmt: skip


def _offer(box: widgets.Checkbox, available: bool, why_not: str) -> None:
    box.disabled = not available
    box.tooltip = "" if available else why_not
    if not available:
        box.value = False
