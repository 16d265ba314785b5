"""``make bench``: the figures that show whether mock-sprinto is fast and light enough for CI.

Run ``python -m benchmarks`` (``--help`` for options). Every figure is printed beside a baseline
measured in the same run, and the run is written to ``benchmarks/RESULTS.md``. Benchmarks are
not tests: nothing here asserts a timing.
"""
