"""mock-sprinto: a local emulator of Sprinto's Custom Integration Entities Sync API."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
