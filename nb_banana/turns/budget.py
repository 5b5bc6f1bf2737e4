"""``Banana.budget_usd``: refuse, before sending, a call that would pass the budget.

One rule for every path (a cell, ``-n``, ``--each``, a comparison, the panel, a batch):

    spent + committed + this call <= budget

``spent`` is what the store records as billed; ``committed`` is what has gone out but is
not recorded yet: this kernel's calls in flight (``Ledger``) and the Batch API jobs not yet
fetched (their estimate at the batch price). A call is checked and counted as in flight in
one step under the ledger's lock, so two threads (the kernel's and the panel's worker) or
eight ``--each`` calls cannot each see room for themselves. Its hold ends once its answer
is recorded (``turns.commit``), or when it came to nothing.

Only what may be billed counts: the simulator's answers (``%banana offline``) cost nothing,
so they neither count against the budget nor are refused by it. A custom base URL counts,
since it may be a proxy to the real service.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..context import session, settings
from ..errors import BudgetError
from ..gemini.models import BATCH_PRICE, default_model
from ..gemini.usage import estimate_before, format_usd
from ..memory.session import Hold
from ..memory.store import REAL_SERVICE, SIMULATOR, Store

if TYPE_CHECKING:  # the type only: the module loads Pillow, not needed at %load_ext
    from ..gemini.request import Request


@dataclass(frozen=True)
class Standing:
    """Where the budget stands: billed so far, and committed but not yet billed."""

    budget: float
    spent: float
    in_flight: float
    awaited: float

    @property
    def committed(self) -> float:
        return self.in_flight + self.awaited

    @property
    def left(self) -> float:
        """What may still be committed; never below zero (an estimate can fall short of
        the bill, so ``spent`` alone may pass the budget by a little)."""
        return max(0.0, self.budget - self.spent - self.committed)

    def said(self) -> str:
        """``$0.068 spent, $0.034 committed (calls in flight, Batch API jobs …)``: the
        message a refusal and ``%banana usage`` give."""
        return (
            f"{format_usd(self.spent)} spent, {format_usd(self.committed)} committed "
            "(calls in flight, Batch API jobs not yet fetched)"
        )


def standing(store: Store | None) -> Standing:
    """The budget's figures now (the store's jobs include those it could not write yet)."""
    spent = store.billed_cost() if store is not None else 0.0
    jobs = store.jobs() if store is not None else []
    awaited = sum(row.estimate for row in jobs if row.awaited)
    return Standing(settings().budget_usd, spent, session().ledger.total, awaited)


def reserve(request: Request, store: Store | None, endpoint: str = REAL_SERVICE) -> Hold:
    """Check this live call against the budget and count it as in flight, in one step;
    raise ``BudgetError`` (nothing counted) if it would pass the budget."""
    return reserve_amount(estimated(request), store, endpoint, what=request)


def reserve_amount(
    amount: float,
    store: Store | None,
    endpoint: str,
    *,
    what: Request | None = None,
    batch_size: int = 0,
) -> Hold:
    """``reserve`` for an amount: a batch's total (``batch_size`` elements)."""
    ledger = session().ledger
    if not settings().budget_usd or endpoint == SIMULATOR:
        return Hold(0.0)
    with ledger.lock:
        now = standing(store)
        if now.spent + now.committed + amount > now.budget:
            raise BudgetError(_refusal(amount, now, what, batch_size))
        return ledger.hold(amount)


def _refusal(amount: float, now: Standing, what: Request | None, batch_size: int) -> str:
    total = now.spent + now.committed + amount
    if batch_size:
        this, fix = (
            f"This batch of {batch_size} (~{format_usd(amount)} at the batch price)",
            "submit fewer elements, or ",
        )
    else:
        this, fix = f"This call (~{format_usd(amount)})", _cheaper(what) if what else ""
    return (
        f"{this} would take spending to {format_usd(total)}, over Banana.budget_usd = "
        f"{format_usd(now.budget)} ({now.said()}): {fix}raise the budget with "
        "%config Banana.budget_usd."
    )


# Thinking tokens a sample may be billed for, which no estimate before the call can know:
# the real service reported 174, and 529 with Search (docs, REAL_REPLIES.md). Counted so
# that what a call is held at is not less than its bill.
THOUGHT_ALLOWANCE = 600


def estimated(request: Request, *, batch: bool = False) -> float:
    """What a request will cost at most, roughly, before it is sent: what a dry run shows,
    plus the thinking it may be billed for (``THOUGHT_ALLOWANCE``)."""
    before = estimate_before(
        request.model, request.text, len(request.images), request.count, request.size
    )
    thinking = request.count * THOUGHT_ALLOWANCE * request.model.text_price_per_m / 1e6
    return (before + thinking) * (BATCH_PRICE if batch else 1.0)


def _cheaper(request: Request) -> str:
    """What would make this call cheaper, naming only what the user is not doing already."""
    ways = []
    cheapest = default_model()
    if cheapest.id != request.model.id:
        ways.append(f"-m {cheapest.aliases[0]}")
    if request.count > 1:
        ways.append("fewer images (-n)")
    return f"use {' or '.join(ways)}, or " if ways else ""
