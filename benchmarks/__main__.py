"""``python -m benchmarks``: every section, in order (``--help`` for the options)."""

import sys

from . import bomb, controlreads, drift, fixture, memory, startup, throughput, validation
from .harness import Part, main

PARTS: tuple[Part, ...] = (
    throughput.PART,
    startup.PART,
    fixture.PART,
    memory.PART,
    bomb.PART,
    validation.PART,
    drift.PART,
    controlreads.PART,
)

if __name__ == "__main__":
    sys.exit(main(PARTS))
