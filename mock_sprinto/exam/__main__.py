"""``python -m mock_sprinto.exam [options] -- COMMAND ...``"""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
