"""Fuzz the push body path with hypothesis: only documented outcomes ever come out.

The same path runs under atheris for long runs (``make fuzz``, tests/property/fuzz_body.py).
"""

from __future__ import annotations

import contextlib
import gzip
import json
import time
import zlib
from collections.abc import Iterator
from typing import Any

import orjson
from hypothesis import assume, event, given, note
from hypothesis import strategies as st

from mock_sprinto import payload
from mock_sprinto.clock import ManualClock
from mock_sprinto.errors import ApiError
from mock_sprinto.payload import _may_repeat_names, _walk, parse_json
from mock_sprinto.service import Emulator
from mock_sprinto.sessions import Wire
from mock_sprinto.settings import Config, Settings

from ..helpers import nesting_depth
from .body import DECODED_CAP, DOCUMENTED_ERRORS, FLAT, REGISTRY, body_path, stdlib_finds_a_repeated_name

ENCODINGS = ["identity", "gzip", "deflate"]


def encode(data: bytes, encoding: str, variant: int = 0) -> bytes:
    if encoding == "gzip":
        if variant % 2:  # two gzip members, as a client streaming in chunks may send
            half = len(data) // 2
            return gzip.compress(data[:half], mtime=0) + gzip.compress(data[half:], mtime=0)
        return gzip.compress(data, mtime=0)
    if encoding == "deflate":
        if variant % 2:
            raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)  # raw deflate, as some clients send
            return raw.compress(data) + raw.flush()
        return zlib.compress(data)
    return data


# ---- strategies --------------------------------------------------------------------------
names = st.sampled_from(["employeeId", "firstName", "workEmail", "entities", "User", "page_hint", "x", ""])
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(["a@b.co", "2022-01-15T09:00:00Z", "EMPLOYEE", "not-an-email"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8) | names, inner, max_size=4),
    max_leaves=20,
)
records = st.one_of(
    st.fixed_dictionaries(
        {
            "employeeId": st.text(min_size=1, max_size=6),
            "firstName": st.text(min_size=1, max_size=6),
            "lastName": st.just("Doe"),
            "workEmail": st.sampled_from(["a@example.com", "b@example.org", "nope", ""]),
            "employmentStartDate": st.sampled_from(["2022-01-15T09:00:00Z", "2022-13-01T00:00:00Z", "yesterday"]),
            "employmentType": st.sampled_from(["EMPLOYEE", "CONTRACTOR", "INTERN"]),
        },
        optional={"managerId": st.none() | st.text(max_size=4), "extra": json_values},
    ),
    json_values,
)
pages = (
    st.fixed_dictionaries(
        {
            "entities": st.one_of(
                st.dictionaries(
                    st.sampled_from(["User", "Device", "bad type", "A" * 70]), st.lists(records, max_size=6), max_size=3
                ),
                json_values,
            )
        },
        optional={
            "page_hint": st.one_of(st.integers(-(2**65), 2**65), st.floats(), st.text(max_size=300), json_values)
        },
    )
    | json_values
)


@st.composite
def page_bytes(draw: st.DrawFn) -> tuple[bytes, str]:
    """A page (often valid, often nearly so), serialized, maybe damaged, maybe compressed."""
    # The stdlib writer: it also writes integers past 64 bits and NaN/Infinity, all fair input.
    raw = json.dumps(draw(pages), ensure_ascii=draw(st.booleans())).encode()
    damage = draw(st.sampled_from(["none", "none", "truncate", "flip", "splice"]))
    if damage == "truncate" and raw:
        raw = raw[: draw(st.integers(0, len(raw) - 1))]
    elif damage == "flip" and raw:
        at = draw(st.integers(0, len(raw) - 1))
        raw = raw[:at] + bytes([raw[at] ^ draw(st.integers(1, 255))]) + raw[at + 1 :]
    elif damage == "splice":
        raw = raw + draw(st.sampled_from([b"", b"}", b" ", b"\x00", b'{"a":1}', b"\xff"]))
    encoding = draw(st.sampled_from(ENCODINGS))
    wire = encode(raw, encoding, draw(st.integers(0, 1)))
    if encoding != "identity" and draw(st.booleans()):
        cut = draw(st.integers(0, len(wire)))
        wire = wire[:cut] + draw(st.binary(max_size=4))  # a broken or truncated stream
    return wire, encoding


# ---- properties --------------------------------------------------------------------------
@given(raw=st.binary(max_size=2000), encoding=st.sampled_from(ENCODINGS))
def test_any_bytes_give_a_documented_outcome(raw: bytes, encoding: str) -> None:
    body_path(raw, encoding)


@given(case=page_bytes(), max_items=st.sampled_from([None, 1, 5, 100]))
def test_pages_damaged_or_not_give_a_documented_outcome(case: tuple[bytes, str], max_items: int | None) -> None:
    raw, encoding = case
    note(f"{encoding}: {raw[:300]!r}")
    body_path(raw, encoding, max_items=max_items)


@given(size=st.integers(DECODED_CAP + 1, DECODED_CAP * 40), encoding=st.sampled_from(["gzip", "deflate"]))
def test_compression_bombs_are_refused_as_too_large(size: int, encoding: str) -> None:
    bomb = encode(b"[" * 10 + b" " * size, encoding)
    assert len(bomb) < DECODED_CAP  # small on the wire, large once decoded
    assert body_path(bomb, encoding) == "payload_too_large"


@given(
    users=st.lists(st.integers(0, 50), min_size=1, max_size=20),
    encoding=st.sampled_from(ENCODINGS),
    variant=st.integers(0, 1),
    hint=st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1), st.text(max_size=256)),
)
def test_valid_pages_are_accepted_however_encoded(users: list[int], encoding: str, variant: int, hint: Any) -> None:
    page: dict[str, Any] = {
        "entities": {
            "User": [
                {
                    "employeeId": f"E{i}",
                    "firstName": "A",
                    "lastName": "B",
                    "workEmail": f"u{i}@example.com",
                    "employmentStartDate": "2022-01-15T09:00:00Z",
                    "employmentType": "EMPLOYEE",
                }
                for i in users
            ]
        }
    }
    if hint is not None:
        page["page_hint"] = hint
    assert body_path(encode(orjson.dumps(page), encoding, variant), encoding) == "accepted"


# ---- duplicate member names: the fast proof never misses one ----------------------------
separators = st.sampled_from([":", ":", ":", " :", ": ", "\n:", "\t :\r\n"])
json_keys = st.sampled_from(['"a"', '"a"', '"b"', '"\\u0061"', '"x\\":"', '"employeeId"', '"User"', '""', '"\\""'])
json_scalars = st.sampled_from(["1", "-2.5e3", "true", "null", '"s"', '"q\\":"', '"\\":\\""', '"a\\u0022:"', '":"'])


def json_text(leaves: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """JSON text written by hand, so objects may repeat a name (spelled alike or escaped)."""

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        members = st.lists(st.tuples(json_keys, separators, inner), max_size=4)
        objects = members.map(lambda ms: "{" + ", ".join(k + sep + v for k, sep, v in ms) + "}")
        arrays = st.lists(inner, max_size=3).map(lambda items: "[" + ",".join(items) + "]")
        return objects | arrays

    return st.recursive(leaves, extend, max_leaves=16)


@st.composite
def documents(draw: st.DrawFn) -> bytes:
    inner = draw(json_text(json_scalars))
    shape = draw(st.sampled_from(["bare", "page", "user"]))
    if shape == "page":  # inside a page, where the flat-type shortcut counts instead of walking
        return f'{{"entities": {{"User": [{inner}], "Device": [{inner}]}}, "page_hint": 1}}'.encode()
    if shape == "user":
        key = draw(json_keys)
        return (
            f'{{"entities": {{"User": [{{"employeeId": "E1", {key}{draw(separators)}{draw(json_scalars)}'
            f', "firstName": {inner}}}]}}}}'
        ).encode()
    return inner.encode()


@contextlib.contextmanager
def proof_pieces(size: int) -> Iterator[None]:
    """The proofs count the text ``size`` bytes at a time (a few: every mark near a cut)."""
    before = payload.PROOF_PIECE
    payload.PROOF_PIECE = size
    try:
        yield
    finally:
        payload.PROOF_PIECE = before


PIECES = st.sampled_from([1, 2, 3, 5, 1 << 16])


@given(raw=documents(), flat=st.sampled_from([FLAT, frozenset()]), piece=PIECES)
def test_repeated_names_are_refused_exactly_when_the_stdlib_parser_sees_one(
    raw: bytes, flat: frozenset[str], piece: int
) -> None:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        assume(False)
        return
    expected = stdlib_finds_a_repeated_name(raw)
    note(f"stdlib repeated={expected}: {raw!r}")
    event(f"repeated name: {expected}")
    if expected:
        # the cheap proof must say "check properly", never "no repeats"
        assert _may_repeat_names(raw, _walk(value, 64, flat))
    try:
        with proof_pieces(piece):
            parse_json(raw, 64, reject_repeated_names=True, flat_types=flat)
        refused = False
    except ApiError as error:
        assert error.code == "malformed_body", error.detail
        refused = "appears twice" in error.detail
    assert refused == expected


@given(raw=documents(), limit=st.integers(1, 7), refuse=st.booleans(), piece=PIECES)
def test_the_depth_limit_is_exact_whatever_shortcut_parsing_takes(
    raw: bytes, limit: int, refuse: bool, piece: int
) -> None:
    """The count of brackets that spares walking the records never lets a too-deep body through
    and never refuses one within the limit (records with nested fields beyond the known ones)."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        assume(False)
        return
    assume(not (refuse and stdlib_finds_a_repeated_name(raw)))
    too_deep = nesting_depth(value) > limit
    event(f"too deep: {too_deep}")
    try:
        with proof_pieces(piece):
            parse_json(raw, limit, reject_repeated_names=refuse)
        refused = False
    except ApiError as error:
        assert error.code == "malformed_body", error.detail
        refused = "nesting" in error.detail
    assert refused == too_deep


# ---- the same bodies through the domain: push, then close and apply ---------------------
EMULATOR = Emulator(
    Config(Settings().with_overrides({"processing_seconds": 0, "max_decoded_bytes": DECODED_CAP})),
    REGISTRY,
    ManualClock(1_767_225_600.0),
)


@given(case=page_bytes())
def test_the_emulator_answers_every_push_with_a_documented_outcome_and_applies_what_it_accepted(
    case: tuple[bytes, str],
) -> None:
    raw, encoding = case
    tenant = EMULATOR.authenticate("fuzz", "key")
    session = EMULATOR.sessions.start_session(tenant, None)
    wire = Wire("req_fuzz", len(raw), 0, encoding, time.perf_counter())
    try:
        from mock_sprinto.coding import inflate
        from mock_sprinto.payload import SizeLimit

        decoded = raw if encoding == "identity" else inflate(raw, encoding, SizeLimit(DECODED_CAP, "max_decoded_bytes"))
        wire.decoded_bytes = len(decoded)
        result = EMULATOR.sessions.push_page(tenant, session.id, decoded, wire)
        accepted = True
    except ApiError as error:
        if error.code not in ("validation_failed", "empty_page", "too_many_items"):
            assert (error.status, error.code) in DOCUMENTED_ERRORS, error.problem()
        orjson.dumps(error.problem())
        accepted = False
    closed = EMULATOR.sessions.close_session(tenant, session.id, {"status": "apply"})
    assert closed.state.value == "processed"
    if accepted:
        assert closed.accepted_records_total == result["accepted_count_total"]
    assert tenant.staged_bytes == 0  # nothing stays staged once the session is done
    orjson.dumps([s.public() for s in tenant.sessions.values()])
