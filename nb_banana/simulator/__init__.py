"""An offline Gemini: a loopback HTTP server that answers ``generateContent``, ``models.list``,
``models.get`` and the Batch API as the API does.

nb_banana's tests, its demo notebook and ``%banana offline`` run on it, always through the
real google-genai SDK (``HttpOptions(base_url=sim.url)``), so the SDK's own request
building and reply parsing are exercised. It is strict (it refuses what the API refuses),
deterministic (a request always gets the same bytes back) and can misbehave on demand
(``inject(Fault...)``, ``rate_limit = (requests, seconds)``, ``fail_next_batch()``). See
docs/simulator.md.

    with Simulator() as sim:
        client = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=sim.url))
"""

from __future__ import annotations

from .faults import Fault
from .server import RecordedRequest, Simulator, shared

__all__ = ["Fault", "RecordedRequest", "Simulator", "shared"]
