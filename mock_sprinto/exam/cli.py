"""``mock-sprinto exam [options] -- COMMAND ...`` (and ``python -m mock_sprinto.exam``).

``add_arguments`` fills a parser (the main CLI's ``exam`` subcommand, or this module's own) and
``run`` carries the parsed arguments out; exit 0 when every trial passed, 1 when one failed, 2 for
a usage error (an unknown trial, an unreadable file, no command).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from ..errors import MockSprintoError
from ..faults import ScenarioError, parse_scenario
from ..testing import load_scenario_file
from . import output, runner
from .runner import EnvNames, Exam, ExamOptions
from .trials import CATALOGUE, Trial, user_trial

DESCRIPTION = (
    "Run your own sync command once per trial against a fresh integration of an emulator started "
    "here, each trial with one documented Sprinto fault, and judge the outcome: after a recoverable "
    "fault, exit 0 with every expected record applied and no error finding; after one that cannot "
    "be recovered, a non-zero exit. The command finds the emulator in $SPRINTO_BASE_URL, "
    "$SPRINTO_API_KEY and $SPRINTO_INTEGRATION_ID."
)
EPILOG = "example: mock-sprinto exam --json exam.json --junit-xml exam.xml -- python sync.py   (see docs/exam.md)"


class UsageError(MockSprintoError):
    """A problem with the options: exit 2."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--trials",
        action="append",
        metavar="A,B",
        help="run only these trials (comma-separated; repeatable), a --scenario's by its scenario's name; "
        "the baseline runs first unless --expect is given",
    )
    parser.add_argument(
        "--list",
        action="store_true",
        help="list the trials, what each does and expects (a --scenario's too), and exit",
    )
    parser.add_argument(
        "--expect",
        metavar="FILE",
        help='the expected dataset, JSON {"User": [records...]}; default: what the baseline applied',
    )
    parser.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="FILE",
        help="also run your own scenario (YAML/JSON) as a recoverable trial named by the scenario's name (repeatable)",
    )
    parser.add_argument(
        "--jobs", type=int, default=runner.DEFAULT_JOBS, metavar="N", help="trials run at once (default 2)"
    )
    parser.add_argument(
        "--trial-timeout",
        type=float,
        default=runner.DEFAULT_TRIAL_TIMEOUT,
        metavar="SECONDS",
        help="wall-clock limit of one run of the command (default 60); past it the command is killed",
    )
    parser.add_argument(
        "--artifacts",
        default=str(runner.DEFAULT_ARTIFACTS),
        metavar="DIR",
        help="where each trial's HAR, judge's report and output go, a folder per trial (default ./mock-sprinto-exam)",
    )
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON")
    parser.add_argument("--junit-xml", metavar="FILE", help="write the results as JUnit XML (a testcase per trial)")
    parser.add_argument("--markdown", metavar="FILE", help="write a Markdown table (e.g. $GITHUB_STEP_SUMMARY)")
    defaults = EnvNames()
    parser.add_argument(
        "--env-base-url",
        default=defaults.base_url,
        metavar="NAME",
        help="variable for the base URL (default %(default)s)",
    )
    parser.add_argument(
        "--env-api-key", default=defaults.api_key, metavar="NAME", help="variable for the API key (default %(default)s)"
    )
    parser.add_argument(
        "--env-integration-id",
        default=defaults.integration_id,
        metavar="NAME",
        help="variable for the integration id (default %(default)s)",
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="no progress line per trial: the final table, the failures and the summary only",
    )
    # Not dest "command": the main CLI names its subcommand so, in the same namespace.
    parser.add_argument(
        "sync_command", nargs=argparse.REMAINDER, metavar="-- COMMAND ...", help="your sync command and its arguments"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mock-sprinto exam", description=DESCRIPTION, epilog=EPILOG)
    add_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(None if argv is None else list(argv))
    if unknown:  # as parse_args says it, and the closest flags (`--jbos`: did you mean --jobs?)
        parser.error(f"unrecognized arguments: {' '.join(unknown)}{_closest_flags(parser, unknown)}")
    return run(args)


def _closest_flags(parser: argparse.ArgumentParser, unknown: list[str]) -> str:
    import difflib

    flags = [flag for flag in parser._option_string_actions if flag.startswith("--")]
    written = [word.split("=", 1)[0] for word in unknown if word.startswith("--") and word != "--"]
    hints = []
    for word in written:
        close = difflib.get_close_matches(word, flags, n=3, cutoff=0.75)
        if close:
            hints.append(f"{f'{word}: ' if len(written) > 1 else ''}did you mean {' or '.join(close)}?")
    return "".join(f"; {hint}" for hint in hints)


def run(args: argparse.Namespace) -> int:
    try:
        if args.list:  # with a --scenario's trial, under the name --trials selects it by
            print(output.catalogue_text([*CATALOGUE, *(scenario_trial(path) for path in args.scenario)]))
            return 0
        command, options = _options(args)
    except UsageError as problem:
        print(f"mock-sprinto exam: error: {problem}", file=sys.stderr)
        return 2
    progress = None if args.quiet else _progress
    if not args.quiet:
        print(f"mock-sprinto exam of: {' '.join(command)}  (jobs {options.jobs}, {options.trial_timeout:g} s a trial)")
    try:
        with _terminated_as_exit():
            exam = Exam(command, options, on_done=progress).run()
    except ValueError as problem:  # the plan: no such trial, a name clash
        print(f"mock-sprinto exam: error: {problem}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mock-sprinto exam: interrupted; every command it started was ended", file=sys.stderr)
        return 130
    if not args.quiet:
        print()  # between the progress lines and the table
    print(output.table(exam))
    for path, text in (
        (args.json, output.to_json),
        (args.junit_xml, output.to_junit_xml),
        (args.markdown, output.to_markdown),
    ):
        if path:
            output.write(Path(path), text(exam))
    return 0 if exam.passed else 1


def _progress(result: Any) -> None:
    print(output.progress_line(result), flush=True)


def _options(args: argparse.Namespace) -> tuple[list[str], ExamOptions]:
    command = list(args.sync_command or [])
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        raise UsageError("no command to examine: mock-sprinto exam [options] -- COMMAND ...")
    if shutil.which(command[0]) is None and not Path(command[0]).is_file():
        raise UsageError(f"command not found: {command[0]!r}")
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if not args.trial_timeout > 0:
        raise UsageError("--trial-timeout must be more than 0 seconds")
    extra = [scenario_trial(path) for path in args.scenario]
    names = None
    if args.trials:
        names = [name.strip() for value in args.trials for name in value.split(",") if name.strip()]
        known = {trial.name for trial in [*CATALOGUE, *extra]}  # a --scenario's trial by its name too
        unknown = [name for name in names if name not in known]
        if unknown:
            raise UsageError(f"no trial named {', '.join(map(repr, unknown))} (trials: {', '.join(sorted(known))})")
    options = ExamOptions(
        trials=names,
        expect=None if args.expect is None else load_expect(args.expect),
        extra_trials=extra,
        jobs=args.jobs,
        trial_timeout=args.trial_timeout,
        artifacts=Path(args.artifacts),
        env_names=EnvNames(args.env_base_url, args.env_api_key, args.env_integration_id),
    )
    try:
        runner.plan(options)
    except ValueError as problem:
        raise UsageError(str(problem)) from None
    return command, options


def load_expect(path: str | os.PathLike[str]) -> dict[str, list[Any]]:
    """``--expect FILE``: a JSON object, entity type -> list of record objects."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"--expect {str(path)!r}: cannot read it as JSON ({exc})") from None
    return checked_expect(document, str(path))


def checked_expect(document: Any, source: str = "expect") -> dict[str, list[Any]]:
    if not isinstance(document, dict) or not all(
        isinstance(items, list) and all(isinstance(record, dict) for record in items) for items in document.values()
    ):
        raise UsageError(f'{source}: the expected dataset is a JSON object {{"EntityType": [{{record}}, ...]}}')
    return {str(entity_type): list(items) for entity_type, items in document.items()}


def scenario_trial(path: str | os.PathLike[str]) -> Trial:
    """``--scenario FILE``: checked here, so a mistake is a usage error rather than a failed trial."""
    try:
        document = load_scenario_file(path)
        parse_scenario(document, str(path))
    except (ValueError, ScenarioError) as exc:
        raise UsageError(str(exc)) from None
    return user_trial(document, str(path))


@contextmanager
def _terminated_as_exit() -> Iterator[None]:
    """SIGTERM (a CI job cancelled) unwinds like Ctrl-C, so the commands running are ended too;
    the default action would leave them running in their own process groups."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
