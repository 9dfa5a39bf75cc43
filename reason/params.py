"""`key=value` parameters from the command line, shared by `reason solve` and `reason bench`.

Leaves out: nesting by dotted keys; a nested value is given as JSON (`budget={"tokens": 600}`).
"""

from __future__ import annotations

import json
from typing import Any

from reason.errors import ConfigError


def parse_pairs(pairs: list[str] | None, what: str = "parameter") -> dict[str, Any]:
    """Values are read as JSON when they parse, else kept as text; dashes in keys become underscores.

    Example: ["n=8", "max-tokens=64", "agg=min", 'stop=["x"]'] -> {"n": 8, "max_tokens": 64, "agg": "min", "stop": ["x"]}
    """
    result: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{what} {pair!r} is not key=value")
        try:
            result[key.strip().replace("-", "_")] = json.loads(raw)
        except json.JSONDecodeError:
            result[key.strip().replace("-", "_")] = raw
    return result
