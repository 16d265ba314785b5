"""Sections 5 and 6: memory with 1,000,000 records staged and applied, and the cost of a push as
a session grows and as finished sessions accumulate. Measured in fresh processes by
``benchmarks/inproc.py`` (``memory``, ``sessions``; ``retention`` when the memory target is missed).
"""

from __future__ import annotations

from collections.abc import Sequence

from .common import run_inproc
from .harness import Context, Part, Scale, Section, flat, mib, us, verdict

APPLIED_TARGET_MIB = 500  # issue 15's target for the applied records
LIMIT_MIB = 1024.0


def memory_benchmarks(scale: Scale) -> tuple[Section, Section]:
    mem = Section(
        5, f"Memory: {scale.memory_pages * 100:,} User records ({scale.memory_pages:,} pages) staged, then applied"
    )
    grow = Section(6, "Cost per page as a session grows and as sessions accumulate")
    result = run_inproc("memory", 900, pages=scale.memory_pages, window=scale.memory_window)
    base = f"process before staging {mib(result['rss_start_mib'])}; page bytes {mib(result['payload_mib'])}"
    mem.add(
        "RSS after staging",
        mib(result["rss_staged_mib"]),
        base,
        "< 1 GB",
        verdict(result["rss_staged_mib"] < LIMIT_MIB),
    )
    mem.add(
        f"RSS after applying ({result['records_applied']:,} records, state {result['state']})",
        mib(result["rss_applied_mib"]),
        base,
        f"≤ {APPLIED_TARGET_MIB} MiB",
        verdict(result["rss_applied_mib"] <= APPLIED_TARGET_MIB),
    )
    mem.add("RSS peak", mib(result["rss_peak_mib"]), "-")
    if result["rss_applied_trimmed_mib"] is not None:
        mem.add(
            "RSS after applying, after malloc_trim(0)",
            mib(result["rss_applied_trimmed_mib"]),
            "what the process still uses once free heap pages are handed back",
        )
    records = max(1, result["records_applied"])
    per_record = (result["rss_applied_mib"] - result["rss_start_mib"]) * 2**20 / records
    mem.add("RSS per applied record", f"{per_record:,.0f} B", "the record's JSON is ~290 B")
    mem.add(
        "time to stage / to apply",
        f"{result['stage_seconds']:.1f} s / {result['apply_seconds']:.1f} s",
        f"{result['pages'] / max(result['stage_seconds'], 1e-9):,.0f} pages/s staged in-process",
    )
    mem.notes.append(
        "in-process: an Emulator driven through its vendor-plane doors (Emulator.push and Emulator.close "
        "with bytes in memory, on one event loop, no socket), settings max_staged_bytes=null, "
        "processing_seconds=0; a fresh process, RSS from /proc/self/status after gc.collect()."
    )
    if result["rss_applied_mib"] >= LIMIT_MIB:
        leak = run_inproc("retention", 300)
        mem.detail.append(
            f"cause check: keeping {leak['count']:,} `orjson.dumps(record)` results grows RSS by "
            f"{leak['dumps_bytes_each']:,.0f} B each; keeping right-sized copies "
            f"(`memoryview(orjson.dumps(record)).tobytes()`) by {leak['copy_bytes_each']:,.0f} B each "
            f"(record JSON {leak['json_bytes']} B). See ANALYSIS.md."
        )
    first, last, fresh = result["first_pages_us"], result["last_pages_us"], result["fresh_session_pages_us"]
    window = result["window"]
    change, ok = flat(last["median"], fresh["median"])
    grow.add(
        f"push_page, pages {result['pages'] - window + 1:,}–{result['pages']:,} of one session (median)",
        us(last["median"]),
        f"pages 1–{window} of a new session, pushed alternately: {us(fresh['median'])}",
        "flat (±15%)",
        f"{verdict(ok)} ({change})",
    )
    grow.add(
        f"push_page, pages 1–{window} at the start of the run (median)",
        us(first["median"]),
        "same figure in a fresh process",
    )
    sessions = run_inproc(
        "sessions",
        600,
        few=scale.sessions_few,
        many=scale.sessions_many,
        pages=scale.sessions_pages,
        rounds=scale.sessions_rounds,
    )
    few, many = sessions["median_us"]["few"], sessions["median_us"]["many"]
    held_few, held_many = sessions["held"]["few"], sessions["held"]["many"]
    for op, label in (
        ("push", "push_page"),
        ("start", "start session"),
        ("close_apply", "close + apply"),
        ("get_session", "session status"),
        ("status", "integration status"),
        ("activity", "activity, first page"),
    ):
        change, ok = flat(many[op], few[op])
        target = "flat (±15%)" if op == "push" else "-"
        grow.add(
            f"{label}, {held_many:,} sessions held (median)",
            us(many[op]),
            f"{held_few:,} held: {us(few[op])} ({change})",
            target,
            verdict(ok) if op == "push" else "-",
        )
    grow.notes.append(
        f"in-process, as section 5; sessions held = finished sessions kept by one integration "
        f"(max_sessions_kept raised); {sessions['rounds']} alternating rounds of "
        f"{sessions['pages_per_round']} pages each. Single-call figures (start, close, reads) are "
        "noisier than the push medians."
    )
    return mem, grow


def sections(context: Context) -> Sequence[Section]:
    return memory_benchmarks(context.scale)


PART = Part((5, 6), ("Memory", "Growth"), sections)
