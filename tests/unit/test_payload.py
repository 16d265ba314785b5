"""The shortcuts of ``parse_json`` on the usual page shape stay exact (the fuzz tests cover the rest)."""

from __future__ import annotations

import orjson
import pytest

from mock_sprinto import payload
from mock_sprinto.clock import ManualClock
from mock_sprinto.errors import ApiError
from mock_sprinto.payload import page_digest, parse_json
from mock_sprinto.service import Emulator
from mock_sprinto.settings import Config, Settings
from mock_sprinto.validation import SchemaRegistry

from ..helpers import nesting_depth, user

REPEATED = [
    b'{"entities": {"User": [{"a": "x:y", "a": "z"}]}}',  # the dropped value held a colon
    b'{"entities": {"User": [{"a": 1, "b": {"c": 1, "c": 2}}]}}',  # in a nested field beyond the known ones
    b'{"entities": {"User": [{"a" : 1, "a":2}]}}',  # white space before a colon
    b'{"entities": {"User": [{"a"\t:\n1, "a"\r\n :2}]}}',  # every kind of white space, in runs
    b'{"entities": {"User": [{"a": "\\u003a", "a": 1}]}}',  # an escaped colon
    b'{"entities": {"User": [{"k": 1}], "User": [{"k": 1}]}}',
    b'{"entities": {"User": [{"a": ":x", "a": 1}]}}',  # a value whose first byte kept is a colon
    b'{"entities": {"User": [{"a": "\\":", "a": 1}]}}',  # an escaped quote before a colon
    b'{"entities": {"User": [{"url": "https://x", "at": "2022-01-15T09:00:00Z", "at": 1}]}}',
]
FINE = [
    b'{"entities": {"User": [{"a": "x:y", "b": "[{:"}]}}',  # marks inside strings
    b'{"entities": {"User": [{"a": {"b": [1, {"c": ":"}]}}]}, "page_hint": 7}',
    b'{"entities":{"User":[{"a":"\\"quoted\\":"}]}}',
]


@pytest.mark.parametrize("raw", REPEATED)
def test_a_repeated_name_is_refused_whichever_proof_runs(raw: bytes) -> None:
    with pytest.raises(ApiError, match="appears twice"):
        parse_json(raw, 64)
    parse_json(raw, 64, reject_repeated_names=False)  # last wins, as asked


@pytest.mark.parametrize("raw", FINE)
def test_a_page_without_repeats_is_accepted(raw: bytes) -> None:
    parse_json(raw, 64)


def test_nesting_beyond_the_records_counts_against_the_limit() -> None:
    raw = b'{"entities": {"User": [{"a": {"b": {"c": 1}}}]}}'  # depth 6
    parse_json(raw, 6)
    with pytest.raises(ApiError, match="nesting"):
        parse_json(raw, 5)
    parse_json(b'{"entities": {"User": [{"a": "{{{{{{[[[["}]}}', 4)  # brackets in a string are not nesting


def test_the_usual_page_is_proved_free_of_repeats_without_serializing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # The usual page (date-times and URLs with colons, e-mail addresses): the marks both proofs
    # read prove it alone; re-serializing the page (the dearer proof) is not needed.
    def dearer(*args: object) -> bool:
        raise AssertionError("the dearer proof ran")

    monkeypatch.setattr(payload, "_colons_prove_no_repeats", dearer)
    monkeypatch.setattr(payload, "_may_repeat_names", dearer)
    record = (
        '{"employeeId": "E%d", "fullName": "Alice Johnson", "employmentStartDate": "2022-01-15T09:00:00Z",'
        ' "employmentEndDate": null, "workEmail": "alice%d@example.com", "role": "ENG01",'
        ' "profile": "https://example.com/people/E%d?tab=1"}'
    )
    records = ", ".join(record % (i, i, i) for i in range(100))
    parse_json(f'{{"entities": {{"User": [{records}]}}, "page_hint": 7}}'.encode(), 64)


PADDING = "x" * 300  # records larger than a piece of the text a few bytes long
DEPTH_CASES = [
    b'{"entities": {"User": [{"a": {"b": {"c": 1}}}]}}',
    b'{"entities": {"User": [{"a": "{{{{[[[["}, {"b": [1, [2]]}]}}',
    b'{"entities": {"User": [{"a": "{{{{{{{{{{{{{{{{", "b": {"c": {}}}]}, "page_hint": "[[[["}',
    b'{"entities": {"User": [{"a": "{[{[{["}, {"a": 1}], "Device": [], "Other": 5}}',
    f'{{"entities": {{"User": [{{"a": "{PADDING}"}}, {{"a": "{PADDING}", "b": [[]]}}]}}}}'.encode(),
    f'{{"entities": {{"User": [{{"a": "{PADDING}"}}, {{"a": "{PADDING}[{{"}}]}}}}'.encode(),
]


@pytest.mark.parametrize("piece", [1, 2, 3, 7, 1 << 16])  # the text counted a few bytes at a time, or whole
@pytest.mark.parametrize("reject_repeated_names", [True, False])
@pytest.mark.parametrize("raw", DEPTH_CASES)
def test_the_depth_proof_is_exact_however_the_text_is_cut_to_count_it(
    monkeypatch: pytest.MonkeyPatch, piece: int, reject_repeated_names: bool, raw: bytes
) -> None:
    """The proofs count the text a piece at a time and stop once past what the parse found: a
    mark across two pieces counts once, and stopping early decides as the whole count would."""
    monkeypatch.setattr(payload, "PROOF_PIECE", piece)
    deepest = nesting_depth(orjson.loads(raw))
    parse_json(raw, deepest, reject_repeated_names=reject_repeated_names)
    with pytest.raises(ApiError, match="nesting"):
        parse_json(raw, deepest - 1, reject_repeated_names=reject_repeated_names)


@pytest.mark.parametrize("piece", [1, 2, 5, 1 << 16])
@pytest.mark.parametrize(
    "raw",
    [
        b'{"entities": {"User": [{"a": 1, "a": 2}]}}',
        b'{"entities": {"User": [{"a": 1}, {"b": 1, "c": 2, "b" : 3}]}, "page_hint": 1}',
        b'{"entities": {"User": [{"a": "\\":"}, {"b": {"c": 1, "c": 2}}]}}',
    ],
)
def test_a_repeated_name_is_found_however_the_text_is_cut_to_count_it(
    monkeypatch: pytest.MonkeyPatch, piece: int, raw: bytes
) -> None:
    monkeypatch.setattr(payload, "PROOF_PIECE", piece)
    with pytest.raises(ApiError, match="appears twice"):
        parse_json(raw, 64)


@pytest.mark.parametrize("pattern", [b"{", b'":'])
def test_counting_up_to_a_bound_is_exact_below_it_and_says_more_above_it(
    monkeypatch: pytest.MonkeyPatch, pattern: bytes
) -> None:
    marks = (b'x{":x"' * 50)[:-1]
    exact = marks.count(pattern)
    for piece in (1, 2, 3, 64, 1 << 16):
        monkeypatch.setattr(payload, "PROOF_PIECE", piece)
        assert payload._count_up_to(marks, pattern, exact) == exact
        assert payload._count_up_to(marks, pattern, exact + 10) == exact
        assert payload._count_up_to(marks, pattern, exact - 1) > exact - 1
        assert payload._count_up_to(marks, pattern, 0) > 0


STRICT = Settings().with_overrides({"unknown_fields": "reject"})  # User's schema then admits only scalars


@pytest.mark.parametrize(
    ("nesting", "code"),
    [(0, None), (1, "validation_failed"), (60, "validation_failed"), (61, "malformed_body"), (70, "malformed_body")],
)
def test_a_record_of_a_flat_type_nested_anyway_is_refused_by_the_limit_or_by_its_schema(
    nesting: int, code: str | None
) -> None:
    """Records of a type whose schema admits no nesting get no depth proof while parsing: the
    schema refuses any nesting, and a page it refuses is walked for its depth, so a page deeper
    than ``max_json_depth`` (64: the record sits at 4) still reads as malformed."""
    sessions = Emulator(Config(STRICT), SchemaRegistry.shipped(), ManualClock(0.0)).sessions
    assert "User" in sessions.strict_flat_types
    record = user(1)
    if nesting:
        record["role"] = nested = []  # nesting 1: a list where a string belongs
        for _ in range(nesting - 1):
            nested.append([])
            nested = nested[0]
    raw = orjson.dumps({"entities": {"User": [record, user(2)]}})
    try:
        verdict = sessions.judge(STRICT, raw)
    except ApiError as error:
        assert (error.code, "nesting" in error.detail) == (code, True)
    else:
        assert (verdict.code.code if verdict.code is not None else None) == code
        assert code != "malformed_body"


HINTED = [
    (b'{"entities": {"User": [{"id": "1"}]}, "page_hint": "p2-a1"}', b'{"entities": {"User": [{"id": "1"}]}}'),
    (b'{"entities": {"User": [{"id": "1"}]} ,\n "page_hint" : 7 }\n', b'{"entities": {"User": [{"id": "1"}]} }\n'),
    (b' {"page_hint": "a\\"b,", "entities": {"User": []}}', b' {"entities": {"User": []}}'),
]


@pytest.mark.parametrize(("sent", "without"), HINTED)
def test_a_page_digest_leaves_the_pages_own_page_hint_out(sent: bytes, without: bytes) -> None:
    """A retry naming its attempt in the hint is the same page; the digest is that of the text
    with the member (and its comma) taken out."""
    assert page_digest(sent) == page_digest(without)


@pytest.mark.parametrize(
    "text",
    [
        b'{"entities": {"User": [{"id": "1", "page_hint": 1}]}}',  # a record's field of that name
        b'{"entities": {"User": [{"id": "1"}], "page_hint": 1}}',  # not the page's own
        b'{"entities": {}, "page_hint": {"n": 1}}',  # not a hint a client writes
        b'{"entities": {}, "page_hint": "' + b"x" * 5000 + b'"}',  # longer than any hint echoed
        b'{"entities": {}, "page_hint": "' + b"x" * 257 + b'"}',  # a hint refused: over 256 characters
        b'{"entities": {}, "page_hint": 1.5}',  # refused: not an integer
        b'{"entities": {"a": 1}, "page_hint": true}',  # refused
    ],
)
def test_a_page_digest_keeps_what_is_not_the_pages_own_hint(text: bytes) -> None:
    changed = text.replace(b"1", b"2") if b"x" * 10 not in text else text.replace(b"xxx", b"xxy", 1)
    assert changed != text and page_digest(changed) != page_digest(text)


@pytest.mark.parametrize(
    "refused",
    [
        b'{"entities": {"User": []}, "page_hint": "p1\\x"}',  # an escape JSON does not have
        b'{"entities": {"User": []}, "page_hint":\x0b"p1"}',  # \v is no JSON white space
        b'{"entities": {"User": []}, "page_hint": "p\x011"}',  # a control character in a string
        b'{"entities": {"User": []}, "page_hint": "' + b"p" * 257 + b'"}',  # over 256 characters
    ],
)
def test_a_page_refused_for_its_hint_is_not_the_page_fixed_by_changing_it(refused: bytes) -> None:
    """The hint the page was refused for stays in its digest: a malformed hint (400 malformed_body)
    fixed and sent again accepted was resent_rejected_page_unchanged (a reviewer)."""
    assert page_digest(refused) != page_digest(b'{"entities": {"User": []}, "page_hint": "p1"}')
