"""mock-sprinto: a local emulator of Sprinto's Custom Integration Entities Sync API."""

from __future__ import annotations

from .errors import MockSprintoError

__version__ = "0.1.0"

__all__ = ["MockSprintoError", "__version__"]
