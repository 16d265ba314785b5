"""Coverage-guided fuzzing of the push body path with atheris (``make fuzz``; not part of ``make test``).

    python -m tests.property.fuzz_body -max_total_time=120 [corpus_dir]

The first input byte picks the content coding, the rest is the body; ``body_path`` asserts that
only documented outcomes come out, so any other exception is a finding atheris reports with its
input. The instrumented modules are the ones the bytes flow through. An empty corpus folder is
seeded with real pages (plain, gzip, deflate; valid and broken) and a dictionary of the JSON
tokens pages are made of, so mutations start past the parser instead of bouncing off it.
"""

from __future__ import annotations

import gzip
import json
import sys
import tempfile
import zlib
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["mock_sprinto"]):
    from tests.property.body import body_path

ENCODINGS = ("identity", "gzip", "deflate")


def one_input(data: bytes) -> None:
    if not data:
        return
    body_path(data[1:], ENCODINGS[data[0] % len(ENCODINGS)], max_items=100 if data[0] & 0x80 else None)


TOKENS = [
    '{"entities": {',
    '"User": [',
    '"employeeId"',
    '"workEmail"',
    '"employmentType"',
    '"EMPLOYEE"',
    '"page_hint"',
    '"2022-01-15T09:00:00Z"',
    '"a@example.com"',
    '": null',
    "], ",
    "}, {",
    "\\u0000",
    "1e999",
]


def seed(corpus: Path) -> None:
    record = {
        "employeeId": "E1",
        "firstName": "A",
        "lastName": "B",
        "workEmail": "a@example.com",
        "employmentStartDate": "2022-01-15T09:00:00Z",
        "employmentType": "EMPLOYEE",
    }
    pages = [
        {"entities": {"User": [record, {**record, "employeeId": "E2"}]}, "page_hint": 1},
        {"entities": {"User": [{**record, "workEmail": "nope"}], "Device": [{"id": [1, {"a": None}]}]}},
        {"entities": {"User": []}},
        {"entities": {"Thing": [{"x": "y"}] * 3}, "page_hint": "p"},
    ]
    for i, page in enumerate(pages):
        raw = json.dumps(page).encode()
        (corpus / f"seed-{i}-identity").write_bytes(b"\x00" + raw)
        (corpus / f"seed-{i}-gzip").write_bytes(b"\x01" + gzip.compress(raw, mtime=0))
        (corpus / f"seed-{i}-deflate").write_bytes(b"\x02" + zlib.compress(raw))


def main() -> None:
    folders = [Path(arg) for arg in sys.argv[1:] if not arg.startswith("-")]
    for folder in folders:
        if folder.is_dir() and not any(folder.iterdir()):
            seed(folder)
    if not any(arg.startswith("-dict=") for arg in sys.argv):
        dictionary = Path(tempfile.mkdtemp()) / "json.dict"
        dictionary.write_text("\n".join(json.dumps(token) for token in TOKENS) + "\n")
        sys.argv.append(f"-dict={dictionary}")
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
