"""nb_banana's benchmark suite: ``make bench`` (``python -m bench``) prints one table.

Every figure runs against the offline simulator with a fixed injected latency, in one run,
beside a baseline measured in the same rounds; ``bench/results.json`` keeps the numbers.
``docs/benchmarks.md`` says what each figure measures and why.
"""
