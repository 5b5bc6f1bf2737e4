"""``Banana.budget_usd``: refuse, before sending, a call that would pass the budget."""

from __future__ import annotations

from .errors import BudgetError
from .models import default_model
from .request import Request
from .settings import settings
from .store import Store
from .usage import estimate_before, format_usd


def check_budget(request: Request, store: Store | None) -> None:
    """Raise ``BudgetError`` if this call's estimate would take spending past the budget."""
    budget = settings().budget_usd
    if not budget:
        return
    spent = store.totals().cost if store is not None else 0.0
    estimate = estimate_before(
        request.model, request.text, len(request.images), request.count, request.size
    )
    if spent + estimate > budget:
        cheapest = default_model()
        cheaper = "" if cheapest.id == request.model.id else f"-m {cheapest.aliases[0]} or "
        raise BudgetError(
            f"This call (~{format_usd(estimate)}) would take spending to "
            f"{format_usd(spent + estimate)}, over Banana.budget_usd = {format_usd(budget)} "
            f"({format_usd(spent)} spent so far): use {cheaper}fewer images, or raise the "
            "budget with %config Banana.budget_usd."
        )
