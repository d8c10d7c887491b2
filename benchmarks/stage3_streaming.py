"""Stage 3 materialized vs streaming: ``benchmarks/helper_streaming.py --stage 3`` (same options).

    PYTHONPATH=. .venv/bin/python benchmarks/stage3_streaming.py --log-t 16 [--pairs 3] ...
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import helper_streaming

if __name__ == "__main__":
    if "--child" not in sys.argv and "--stage" not in sys.argv:
        sys.argv[1:1] = ["--stage", "3"]
    sys.exit(helper_streaming.main())
