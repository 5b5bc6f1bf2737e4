"""``Banana.budget_usd``: refuse, before sending, a call that would pass the budget.

Only what may be billed counts: the simulator's answers (``%banana offline``) cost nothing,
so they neither count against the budget nor are refused by it. A custom base URL counts,
since it may be a proxy to the real service.
"""

from __future__ import annotations

from .errors import BudgetError
from .models import default_model
from .request import Request
from .settings import settings
from .store import REAL_SERVICE, SIMULATOR, Store
from .usage import estimate_before, format_usd


def check_budget(
    request: Request, store: Store | None, endpoint: str = REAL_SERVICE, pending: float = 0.0
) -> None:
    """Raise ``BudgetError`` if this call's estimate would take spending past the budget;
    ``pending``: the estimate of calls sent with it (a comparison's other rows), as spent."""
    budget = settings().budget_usd
    if not budget or endpoint == SIMULATOR:
        return
    spent = (store.billed_cost() if store is not None else 0.0) + pending
    estimate = estimated(request)
    if spent + estimate > budget:
        raise BudgetError(
            f"This call (~{format_usd(estimate)}) would take spending to "
            f"{format_usd(spent + estimate)}, over Banana.budget_usd = {format_usd(budget)} "
            f"({format_usd(spent)} spent so far): {_cheaper(request)}raise the budget with "
            "%config Banana.budget_usd."
        )


def estimated(request: Request) -> float:
    """What a request will cost at most roughly, before it is sent."""
    return estimate_before(
        request.model, request.text, len(request.images), request.count, request.size
    )


def _cheaper(request: Request) -> str:
    """What would make this call cheaper, naming only what the user is not doing already."""
    ways = []
    cheapest = default_model()
    if cheapest.id != request.model.id:
        ways.append(f"-m {cheapest.aliases[0]}")
    if request.count > 1:
        ways.append("fewer images (-n)")
    return f"use {' or '.join(ways)}, or " if ways else ""
