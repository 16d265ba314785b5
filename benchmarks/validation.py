"""Section 8: the validation engines and the other steps of a push, per 100-record page,
in-process (measured by ``python -m benchmarks.inproc validation``), and a push through the whole
HTTP stack with no socket, the emulator beside the bare app and the bare app that also validates
(``python -m benchmarks.stack``): section 1's ingest ratio without the sockets' noise.
"""

from __future__ import annotations

from .common import run_inproc, run_json
from .harness import Part, Scale, Section, us
from .inproc import ALLOWING, LOADS, PUSH, PYTHON, REFUSING, SHIPPED


def validation_benchmark(scale: Scale) -> Section:
    section = Section(8, "Validation and the other steps of a push, per 100-record page (in-process)")
    result = run_inproc("validation", 300, budget=scale.validation_budget)
    steps = result["us_per_page"]
    shipped, python = steps[SHIPPED], steps[PYTHON]
    section.add(
        "check_page (jsonschema-rs " + result["versions"]["jsonschema-rs"] + ")",
        us(shipped),
        f"cached jsonschema {result['versions']['jsonschema']} validator: {us(python)} "
        f"({python / shipped:,.0f}× slower)",
    )
    loads = steps[LOADS]
    lines = ["| step, one 31 KB page of 100 User records | µs per page | × orjson.loads |", "|---|---:|---:|"]
    for name, cost in steps.items():
        lines.append(f"| {name} | {cost:,.1f} | {cost / loads:.1f} |")
    section.detail.append("\n".join(lines))
    section.add(
        "duplicate-member-name proof (parse_json refusing vs allowing repeats)",
        us(steps[REFUSING] - steps[ALLOWING]),
        f"orjson.loads {us(loads)}",
    )
    pushes, rounds = (20, 2) if scale.quick else (250, 7)
    stack = {
        kind: run_json(["-m", "benchmarks.stack", kind, "--pushes", str(pushes), "--rounds", str(rounds)], 300)
        for kind in ("emulator", "bare", "validating")
    }
    emulator, bare = stack["emulator"]["us_per_push"], stack["bare"]["us_per_push"]
    validating = stack["validating"]["us_per_push"]
    section.add(
        "a push through the whole HTTP stack, no socket (CPU per push)",
        f"emulator {us(emulator)}",
        f"bare aiohttp + orjson app {us(bare)} (emulator × {emulator / bare:.2f}); "
        f"Emulator.push alone {us(steps[PUSH])}",
    )
    section.add(
        "the same, the emulator against the app that also validates (section 1's ceiling, no socket)",
        f"{validating / emulator:.2f} of its speed",
        f"the validating app {us(validating)} a push (the bare app and the emulator's schema verdict)",
    )
    checked = ", ".join(result["jsonschema_formats_checked"]) or "none"
    section.notes.append(
        "best of 5 batches per step; both engines give the same verdict on this page. The "
        "jsonschema validator uses jsonschema.FormatChecker(), which here checks the schema's "
        f"formats {checked} (a format whose optional checker package is missing is skipped)."
    )
    return section


PART = Part((8,), ("Validation",), lambda context: [validation_benchmark(context.scale)])
