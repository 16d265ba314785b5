"""The exit codes the commands share (``mock-sprinto serve``, ``scenarios check``, ``probe``, ``state``,
``report``)."""

from __future__ import annotations

FAILED = 1  # the command ran and found a problem: a scenario file, a server that did not answer
USAGE_ERROR = 2  # what was asked cannot be done: a flag, a setting, a config file, a refused api-key
# `report` only, whose 1 means findings: no report came back (nothing listens at --url, the connection
# failed, what answered is no emulator, or the emulator failed), so a CI step tells "the server is not
# up" from "the client misbehaved". `state` and `probe` have no findings and say it with FAILED.
UNREACHABLE = 3
