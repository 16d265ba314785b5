"""The exit codes the commands share (``mock-sprinto serve``, ``scenarios check``, ``probe``)."""

from __future__ import annotations

FAILED = 1  # the command ran and found a problem: a scenario file, a server that did not answer
USAGE_ERROR = 2  # what was asked cannot be done: a flag, a setting, a config file, a refused api-key
