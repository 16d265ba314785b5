"""The exit codes the commands share (``mock-sprinto serve``, ``scenarios check``, ``probe``, ``state``,
``report``)."""

from __future__ import annotations

FAILED = 1  # the command ran and found a problem: a scenario file, a refused state bundle, findings
USAGE_ERROR = 2  # what was asked cannot be done: a flag, a setting, a config file, a refused api-key
# The commands that ask a running emulator over its control API (`report`, `state`): no emulator
# answered (nothing listens at --url, the connection failed, what answered is no emulator, or the
# emulator failed), so a CI step tells "the server is not up" from "the client misbehaved" (report's
# 1) or "the server refused the bundle" (state's 1). `probe` asks a vendor API, Sprinto's or the
# emulator's, and says an unreachable one with FAILED.
UNREACHABLE = 3
