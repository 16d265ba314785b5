"""JSON bodies: strict parsing with the limits a careful vendor would enforce.

orjson does the parsing (about twice as fast as ``json`` and it rejects NaN/Infinity and lone
surrogates itself). What orjson cannot enforce is done here: a nesting limit far below its own
1024, and refusing duplicate member names, which every common parser would silently resolve
"last one wins" and so hide a client bug. Both are proved by counting marks in the text, which
StringZilla's SIMD translation and search do several times faster than ``bytes`` methods.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
import stringzilla

from .codes import MALFORMED_BODY, PAYLOAD_TOO_LARGE
from .errors import ApiError
from .settings import Settings
from .sourcelines import json_pointer as json_pointer  # where validation.py and the tests import it from


@dataclass(slots=True)
class Body:
    """A request body as received (``wire``) and after its content coding was undone."""

    wire: bytes
    decoded: bytes
    encoding: str


class BodySource(Protocol):
    """Where a use case reads its request body from: the HTTP request (``http/body.py``, with its
    size limits and decoding) or, in tests and benchmarks, bytes in memory (``BytesBody``)."""

    @property
    def present(self) -> bool:
        """Whether the request has a body at all."""
        ...

    @property
    def declared_length(self) -> int | None: ...

    @property
    def content_encoding(self) -> str:
        """The Content-Encoding as sent (lower case), ``identity`` when there is none."""
        ...

    @property
    def wire_bytes_read(self) -> int | None:
        """The body's size on the wire once it was read whole (None before, or when it never was):
        what the journal records of a body refused once decoded."""
        ...

    async def read(self, settings: Settings) -> Body: ...


@dataclass(frozen=True, slots=True)
class BytesBody:
    """A body already in memory and not encoded: what a unit test or the in-process benchmark sends."""

    raw: bytes

    @property
    def present(self) -> bool:
        return True

    @property
    def declared_length(self) -> int | None:
        return len(self.raw)

    @property
    def content_encoding(self) -> str:
        return "identity"

    @property
    def wire_bytes_read(self) -> int | None:
        return len(self.raw)

    async def read(self, settings: Settings) -> Body:
        return Body(self.raw, self.raw, "identity")


@dataclass(frozen=True, slots=True)
class _NoBody:
    """A request without a body (start and close may come without one)."""

    @property
    def present(self) -> bool:
        return False

    @property
    def declared_length(self) -> int | None:
        return None

    @property
    def content_encoding(self) -> str:
        return "identity"

    @property
    def wire_bytes_read(self) -> int | None:
        return 0

    async def read(self, settings: Settings) -> Body:
        return Body(b"", b"", "identity")


NO_BODY = _NoBody()

# StringZilla ships no type information: its three functions here, typed.
sz_translate: Callable[[bytes, bytes], bytes] = stringzilla.translate
sz_count: Callable[..., int] = stringzilla.count  # (text, pattern[, start, end])
sz_hash: Callable[[bytes], int] = stringzilla.hash
sz_rfind: Callable[[bytes, bytes], int] = stringzilla.rfind

_WHITE_SPACE = b" \t\r\n"  # JSON's only insignificant white space
# A C call holds the GIL for its whole length, and the event loop, wanting the GIL back after each
# of its syscalls, waits for the call in progress on the large-page judge's thread: over 24 MB one
# ``bytes`` count or translate takes 13-18 ms, in 1 MiB steps ~1 ms each (issue 22: health checks
# waited up to ~150 ms on a few such calls in a row). orjson's own parse of the page stays one call
# (~33 ms); StringZilla's translation (~4 ms for 24 MB) and hash (~1 ms) are left whole beside it.
GIL_STEP = 1 << 20


def count_in_steps(data: bytes, pattern: bytes) -> int:
    """``data.count(pattern)`` in ``GIL_STEP`` pieces; ``pattern`` must not overlap itself (each
    piece counts what starts in it, reading ``len(pattern) - 1`` bytes past its end)."""
    if len(data) <= GIL_STEP:
        return data.count(pattern)
    reach = GIL_STEP + len(pattern) - 1
    return sum(data.count(pattern, start, start + reach) for start in range(0, len(data), GIL_STEP))


def translate_in_steps(data: bytes, table: bytes | None, delete: bytes = b"") -> bytes:
    """``data.translate(table, delete)`` in ``GIL_STEP`` pieces (translating bytes is piecewise)."""
    if len(data) <= GIL_STEP:
        return data.translate(table, delete)
    return b"".join(data[start : start + GIL_STEP].translate(table, delete) for start in range(0, len(data), GIL_STEP))


def malformed(reason: str, setting: str | bool = False) -> ApiError:
    """400 ``malformed_body``; ``setting`` names the one setting that would change this answer
    (``max_json_depth`` for nesting, ``duplicate_names`` for a repeated name on a vendor page):
    a body that is not JSON at all, no setting changes."""
    return ApiError.of(MALFORMED_BODY, f"the body is not acceptable JSON: {reason}", reason=reason, setting=setting)


def parse_json(
    raw: bytes,
    max_depth: int,
    *,
    reject_repeated_names: bool | None = None,
    flat_types: frozenset[str] = frozenset(),
) -> Any:
    """Parse ``raw`` (UTF-8 JSON) or raise 400 ``malformed_body`` saying why.

    ``reject_repeated_names`` is the setting ``duplicate_names`` as a vendor page reads it (its
    refusal then names the setting); None, the default, where no setting governs repeats (a
    ``/_mock`` body, a state bundle): they are always refused, and the refusal names no setting.

    ``flat_types`` names entity types whose schema admits no nested values: their records are
    not walked here, nor their brackets counted (the schema check rejects any nesting in them, and
    the caller runs ``check_depth`` on a page that fails validation so a too-deep body still reads
    as malformed).
    """
    repeats_setting: str | bool = False if reject_repeated_names is None else "duplicate_names"
    if reject_repeated_names is None:
        reject_repeated_names = True
    if not raw.strip():
        raise malformed("the body is empty")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _unparsed(raw, exc, max_depth) from None
    shallow = _shallow(value, max_depth, flat_types)
    if shallow is None:  # not the usual page shape: walk it all
        members = _walk(value, max_depth, flat_types)
        if reject_repeated_names and _may_repeat_names(raw, members):
            _find_repeated_name(raw, repeats_setting)
        return value
    members, containers, flat = shallow
    if not reject_repeated_names:  # the depth proof alone
        if not flat and _opened(raw, containers) != containers:
            _walk(value, max_depth, flat_types)  # a record nests (or a string holds a bracket)
        return value
    marks = sz_translate(raw, _MARKS)  # the text, byte for byte, in the proofs' four classes
    # The depth proof: the text opens exactly the containers counted, or a record nests (or a string
    # holds a bracket): walk it all. Records of flat types need no proof (see ``flat_types``).
    if not flat and _count_up_to(marks, b"{", containers) != containers:
        members = _walk(value, max_depth, flat_types)
    if (
        _count_up_to(marks, b'":', members) != members
        and not _colons_prove_no_repeats(raw, count_in_steps(marks, b":"), value)
        and _may_repeat_names(raw, members)
    ):
        _find_repeated_name(raw, repeats_setting)
    return value


def _opened(raw: bytes, containers: int) -> int:
    """The containers the text opens (its '{' and '['), exact when there are at most
    ``containers`` (any larger number else): the depth proof without the repeated-name proof."""
    return _count_up_to(sz_translate(raw, _MARKS), b"{", containers)


# ``stringzilla.count`` finds each match with a SIMD search: a usual page's ~100 brackets in 1 µs where
# ``bytes.count`` takes 13 (a loop over every byte), but at ~9 ns a match, so a text dense with the
# pattern (a string of a million '[') costs it up to 20 times ``bytes.count``'s. The proofs need to
# know only whether the text holds more than the parse found: counted a piece at a time and stopped
# once past that, a dense text costs one piece (~0.6 ms at worst) beyond what an honest page does.
PROOF_PIECE = 1 << 16


def _count_up_to(marks: bytes, pattern: bytes, most: int) -> int:
    """The occurrences of ``pattern`` (which must not overlap itself) in ``marks``, exact when there
    are at most ``most``; some larger number when there are more."""
    if len(marks) <= PROOF_PIECE:
        return sz_count(marks, pattern)
    found = 0
    reach = PROOF_PIECE + len(pattern) - 1  # each piece counts what starts in it
    for start in range(0, len(marks), PROOF_PIECE):
        found += sz_count(marks, pattern, start, min(start + reach, len(marks)))
        if found > most:
            break
    return found


def check_depth(value: Any, max_depth: int) -> None:
    """Walk everything (no shortcuts) and raise ``malformed_body`` when nesting is too deep."""
    _walk(value, max_depth, frozenset())


def _unparsed(raw: bytes, exc: orjson.JSONDecodeError, max_depth: int) -> ApiError:
    """Why orjson could not parse ``raw``. Its own depth limit (1024 levels) is far past the deepest
    ``max_json_depth`` allows (``settings.MAX_JSON_DEPTH``): such a body is deeper than the setting
    too, and is refused in the same words as one the walk finds too deep."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return malformed(f"not valid UTF-8 (byte {err.start})")
    message = str(exc)
    if "depth limit" in message:
        return too_deep(max_depth)
    return malformed(message)


def too_deep(limit: int) -> ApiError:
    """400 ``malformed_body`` for a body nested deeper than ``max_json_depth``, the limit said."""
    return malformed(f"nesting is deeper than {limit} levels (setting max_json_depth)", "max_json_depth")


def _shallow(root: Any, limit: int, flat_types: frozenset[str]) -> tuple[int, int, bool] | None:
    """For a page whose every record is an object: (object members, containers) down to the
    records (depth 4), without visiting the records' values, and whether every list of records is
    of a flat type. None for any other shape.

    Every container in the parsed value was opened by one ``{`` or ``[`` of the text (brackets
    inside strings, and in values dropped as repeats, only add to the text's count), so when
    the text opens exactly the containers counted here, nothing nests below the records: the
    page is no deeper than 4 and the member count is exact. The check stays exact whatever the
    schema allows (fields beyond the known ones included) and costs one count of the text
    instead of a walk of every record (benchmarks/ANALYSIS.md has the figures).
    """
    if type(root) is not dict or limit < 4:
        return None
    entities = root.get("entities")
    if type(entities) is not dict:
        return None
    for name, child in root.items():
        if name != "entities" and (type(child) is dict or type(child) is list):
            return None
    members = len(root) + len(entities)
    containers = 2
    flat = True
    for entity_type, records in entities.items():
        kind = type(records)
        if kind is dict:
            return None
        if kind is not list:
            continue
        if records and set(map(type, records)) != _OBJECTS_ONLY:
            return None
        containers += 1 + len(records)
        members += sum(map(len, records))
        flat = flat and entity_type in flat_types
    return members, containers, flat


_OBJECTS_ONLY = {dict}
# The text as both proofs read it, byte for byte: '{' and '[' as '{' (the depth proof counts both
# kinds of opening alike); '"' and JSON's four white-space bytes as '"'; ':' as itself; every other
# byte as 'x'. Every member name written ends in '"', white space, ':', so each leaves one '":' (its
# colon's neighbour is the closing quote or white space); any other '":' only adds (a string
# holding a colon after a quote or a space). Nothing is deleted, so a date-time's or a URL's colon
# keeps its neighbour ('9:', 's:') and adds nothing; deleting the other bytes instead cost three
# times as much a byte and made "https://" look like a name.
_MARKS = bytes(
    ord("{") if byte in b"{[" else ord('"') if byte in b'" \t\r\n' else ord(":") if byte == ord(":") else ord("x")
    for byte in range(256)
)


def _colons_prove_no_repeats(raw: bytes, colons: int, value: Any) -> bool:
    """True when no object of ``raw`` repeated a member name; False means 'prove it another way'.

    In a text without a backslash (no escapes) every ``:`` ends a member name or sits inside a
    string, literally. The text has one per member written plus those inside the strings it
    wrote; orjson's re-serialization of the parsed value has one per member kept plus those
    inside the strings kept. A dropped repeat takes away its member (and perhaps strings), never
    adds one, so equal counts mean nothing was dropped: a serialization and two byte counts, cheaper
    than deleting white space and counting '":' (benchmarks/ANALYSIS.md).
    """
    if b"\\" in raw:
        return False
    try:
        return count_in_steps(orjson.dumps(value), b":") == colons
    except orjson.JSONEncodeError:  # e.g. nesting orjson will not write: the other proof decides
        return False


def _walk(root: Any, limit: int, flat_types: frozenset[str]) -> int:
    """Raise when nesting exceeds ``limit``; return the number of object members seen."""
    members = 0
    stack: list[tuple[Any, int]] = [(root, 1)]
    entities = root.get("entities") if type(root) is dict and flat_types else None
    if type(entities) is dict and limit >= 4:
        # Records of flat types sit at depth 4 and are counted, not walked (the walk was a measurable
        # share of a push: benchmarks/ANALYSIS.md).
        members += len(root) + len(entities)
        stack = [(v, 2) for k, v in root.items() if k != "entities"]
        for entity_type, records in entities.items():
            if entity_type in flat_types and type(records) is list:
                try:
                    # A record that is not an object only inflates this count (sending the page
                    # to the exact check) and fails validation, after which check_depth walks it.
                    members += sum(map(len, records))
                    continue
                except TypeError:  # a number or boolean record: walk the list the plain way
                    pass
            stack.append((records, 3))
    while stack:
        node, depth = stack.pop()
        if type(node) is dict:
            members += len(node)
            children: Any = node.values()
        elif type(node) is list:
            children = node
        else:
            continue
        if depth > limit:
            raise too_deep(limit)
        for child in children:
            kind = type(child)
            if kind is dict or kind is list:
                stack.append((child, depth + 1))
    return members


def _may_repeat_names(raw: bytes, members: int) -> bool:
    """Cheap proof that no object repeats a member name; True means 'check properly'.

    Every member name in the text ends in ``"``, optional white space, then ``:``. With every
    white-space byte deleted (inside strings too: that can only add matches), each member
    written leaves one ``":``, so the count of ``":`` is at least the number of members
    written. If that count equals the members the parser kept, none was dropped as a repeat.
    One C-level pass to delete and one to count: about half the cost of a count plus a regex.
    """
    return count_in_steps(translate_in_steps(raw, None, _WHITE_SPACE), b'":') != members


def _find_repeated_name(raw: bytes, setting: str | bool) -> None:
    # Only reached when the cheap proof fails: the stdlib parser reports each object's pairs.
    def refuse_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for name, value in pairs:
            if name in result:
                raise malformed(f"the member name {name!r} appears twice in one object", setting)
            result[name] = value
        return result

    json.loads(raw, object_pairs_hook=refuse_repeats)


# ---- counting a page's records before it is parsed (issue 22, item 3) ---------------------------
# 24 kB of gzip decode to 25 MiB of ``{},{},...``: 8.3 million records that orjson turns into as
# many dicts (0.6 s, ~800 MB) before any check can count them. A page whose text could hold that
# many values is read record by record first (the stdlib's C scanner, one record at a time), and
# refused as soon as its count passes ``max_page_items``: the first records past the limit decide,
# the rest of the body is never parsed.
SCAN_VALUES = 50_000  # a page whose text could hold more values than this is counted first
SCAN_MIN_BYTES = 100_000  # below this a page cannot hold SCAN_VALUES values (two bytes a value)
SCAN_MAX_MEMBERS = 10_000  # members of the envelope visited before the count gives up (None: parse)
SCAN_PREFIX_BYTES = 262_144
# The stdlib's C scanner (typeshed does not list it): one JSON value from a position, and one string.
_SCANNER: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
scanstring: Callable[[str, int], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]
_WS = " \t\n\r"


def many_values(raw: bytes) -> bool:
    """Whether ``raw`` could hold more than about ``SCAN_VALUES`` JSON values: every value but the
    first of a container follows a ',' (commas inside strings only add to the count)."""
    return len(raw) >= SCAN_MIN_BYTES and count_in_steps(raw, b",") > SCAN_VALUES


@dataclass(frozen=True, slots=True)
class Beyond:
    """What a page's text was found to pass before it was parsed: ``max_page_items``
    (``what`` "records") or ``max_page_entity_types`` ("types"), with the records and the entity
    types read when it did (the rest was never read)."""

    what: str
    records: int
    types: int


def page_beyond(raw: bytes, max_records: int | None, max_types: int | None) -> Beyond | None:
    """Where the page's text passes ``max_records`` records or ``max_types`` entity types (None:
    no bound), whichever it passes first as it is read in order; None when it passes neither or its
    shape is not the usual one (the parser then decides, as for any page). Never raises. The first
    ``SCAN_PREFIX_BYTES`` are tried alone (a bomb's first records or types are in them), then all."""
    if max_records is None and max_types is None:
        return None
    for text in (raw[:SCAN_PREFIX_BYTES], raw) if len(raw) > SCAN_PREFIX_BYTES else (raw,):
        try:
            found = _count_records(text.decode("utf-8", "replace"), max_records, max_types)
        except (StopIteration, ValueError, IndexError, RecursionError):
            found = None
        if found is not None:
            return found
    return None


def _skip(text: str, at: int) -> int:
    while at < len(text) and text[at] in _WS:
        at += 1
    return at


def _count_records(text: str, max_records: int | None, max_types: int | None) -> Beyond | None:
    at = _skip(text, 0)
    if text[at] != "{":
        return None
    at = _skip(text, at + 1)
    members = 0
    while text[at] == '"':
        name, at = scanstring(text, at + 1)
        at = _skip(text, at)
        if text[at] != ":":
            return None
        at = _skip(text, at + 1)
        if name == "entities" and text[at] == "{":
            return _count_entities(text, at, max_records, max_types)
        _, at = _SCANNER(text, at)  # another member (page_hint): its value skipped
        at = _skip(text, at)
        members += 1
        if text[at] != "," or members > SCAN_MAX_MEMBERS:
            return None
        at = _skip(text, at + 1)
    return None


def _count_entities(text: str, at: int, max_records: int | None, max_types: int | None) -> Beyond | None:
    """From the '{' of ``entities``: count the entity types and the records of each, and stop past
    either bound. Each type counts, with records or without: a page naming a million empty types
    is refused at its 101st, not parsed into a million-key object (a 13 MB page: ~0.5 s and
    ~100 MB while parsing)."""
    records = types = 0
    at = _skip(text, at + 1)
    while text[at] == '"':
        _, at = scanstring(text, at + 1)
        at = _skip(text, at)
        if text[at] != ":":
            return None
        at = _skip(text, at + 1)
        types += 1
        if max_types is not None and types > max_types:
            return Beyond("types", records, types)
        if types > SCAN_MAX_MEMBERS:  # a bound above this one: the parser decides
            return None
        if text[at] != "[":
            _, at = _SCANNER(text, at)  # not an array: validation names it
        else:
            at = _skip(text, at + 1)
            if text[at] == "]":
                at += 1
            while text[at - 1] != "]":
                _, at = _SCANNER(text, at)  # one record, parsed in C and dropped
                records += 1
                if max_records is not None and records > max_records:
                    return Beyond("records", records, types)
                at = _skip(text, at)
                if text[at] not in ",]":
                    return None
                at = _skip(text, at + 1)
        at = _skip(text, at)
        if text[at] != ",":
            return None
        at = _skip(text, at + 1)
    return None


# A decoded page larger than this is judged away from the event loop (service.py, judging.py).
INLINE_JUDGE_BYTES = 1_048_576


def page_digest(decoded: bytes) -> str:
    """How the judge tells a page sent again from a new one: StringZilla's 64-bit hash of the
    decoded bytes but the page's own ``page_hint`` member (AES rounds in SIMD: 0.6 µs for a 31 KB
    page where Python's SipHash took 8, and 1 ms for 24 MB where blake2b took 31). The same in every
    process and on every CPU, so a judging child's digests and a bundle's match this process's;
    equal digests are equal pages (a collision: 1 in 2**64).

    The hint is left out because a client may name each try of a page (``"p2-a1"``, ``"p2-a2"``: a
    tracing id): its retry, the same records byte for byte, was a new page to the judge, and a careful
    client that retried every fault was found to have given up on each (a reviewer's zoo)."""
    hint = _hint_member(decoded)
    if hint is None:
        return f"{sz_hash(decoded):016x}"
    start, end = hint
    view = memoryview(decoded)
    hasher = stringzilla.Hasher()  # the hash of the two sides joined, without joining them
    hasher.update(view[:start])
    hasher.update(view[end:])
    return f"{hasher.digest():016x}"


MAX_PAGE_HINT_CHARS = 256  # a page_hint the emulator takes and echoes (validation.usable_page_hint)
# The page's own page_hint member, last or first of the page's object, as a client writes it: a
# hint the emulator takes (``usable_page_hint``: a string of at most 256 characters, an integer),
# white space wherever JSON allows it. A hint refused (too long, 1.5, true, an escape or a control
# character JSON does not allow) stays in the digest: the page fixed by changing only its hint is
# another page, not the refused one sent again (two reviewers).
# Only that member: a record's field of the same name is inside the entities, never first or last
# of the whole text. A member longer than HINT_MEMBER_BYTES is left in the digest, so no client text
# is read by a regular expression past that.
_JSON_SPACE = rb"[ \t\n\r]*"  # JSON's white space only (a regular expression's \s takes \v and \f too)
_STRING_UNIT = rb'(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})'  # what JSON allows in a string
_HINT_VALUE = (
    rb'"page_hint"'
    + _JSON_SPACE
    + rb":"
    + _JSON_SPACE
    + rb'(?:"'
    + _STRING_UNIT
    + b'{0,%d}"|-?(?:0|[1-9][0-9]{0,15}))' % MAX_PAGE_HINT_CHARS
    + _JSON_SPACE
)
_LAST_HINT = re.compile(rb"," + _JSON_SPACE + _HINT_VALUE + rb"(\}" + _JSON_SPACE + rb")\Z")
_FIRST_HINT = re.compile(_JSON_SPACE + rb"\{" + _JSON_SPACE + rb"(" + _HINT_VALUE + rb"," + _JSON_SPACE + rb")")
HINT_MEMBER_BYTES = 4096


def _hint_member(text: bytes) -> tuple[int, int] | None:
    """Where the page's own page_hint member lies (with the comma that separates it), or None."""
    at = sz_rfind(text, b'"page_hint"')
    if at < 0:
        return None
    comma = text.rfind(b",", max(at - HINT_MEMBER_BYTES, 0), at)
    if comma >= 0 and len(text) - comma <= HINT_MEMBER_BYTES and (last := _LAST_HINT.match(text, comma)) is not None:
        return comma, last.start(1)
    first = _FIRST_HINT.match(text, 0, HINT_MEMBER_BYTES)
    return None if first is None else first.span(1)


# ---- a body's size bound and its 413 (the HTTP doors' and a state file's) --------------------
@dataclass(frozen=True, slots=True)
class SizeLimit:
    """A bound on a body's bytes, and what its 413 says: the setting that governs it (the one a
    user would raise) and what helps. Only ``max_request_bytes`` is Sprinto's own limit (basis
    ``doc``); every other is the emulator's choice."""

    limit: int
    setting: str
    document: str = "the request body"
    advice: str = "send smaller pages"

    @classmethod
    def of_setting(cls, limit: int, setting: str, document: str) -> SizeLimit:
        """A control-plane document's bound (``max_state_bytes``, ``max_har_bytes``): raising the
        setting that governs it is what helps."""
        return cls(limit, setting, document, f"start the emulator with a larger {setting}")

    def refusal(self, where: str) -> ApiError:
        return ApiError.of(
            PAYLOAD_TOO_LARGE,
            f"{self.document} is larger than {self.limit} bytes {where} (setting {self.setting}); {self.advice}",
            limit_bytes=self.limit,
            setting=self.setting,
            basis="doc" if self.setting == "max_request_bytes" else "mock",
        )


ON_THE_WIRE = "on the wire"
ONCE_DECODED = "once decoded"
