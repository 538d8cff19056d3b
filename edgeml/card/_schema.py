"""The JSON Schema (Draft 2020-12) of a model card's JSON, shipped in the package."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

__all__ = ["SCHEMA_RESOURCE", "json_schema"]

#: Where the schema lives inside the installed ``edgeml`` package.
SCHEMA_RESOURCE = "schemas/model_card.schema.json"


def json_schema() -> dict[str, Any]:
    """Return the JSON Schema that every :meth:`ModelCard.to_dict` output satisfies.

    Use it to check cards in other languages or in CI (for example with the
    ``jsonschema`` package). A new dict is returned on every call.

    Returns
    -------
    dict
        A Draft 2020-12 JSON Schema.

    Examples
    --------
    >>> schema = json_schema()
    >>> schema["$schema"]
    'https://json-schema.org/draft/2020-12/schema'
    >>> schema["properties"]["format"]
    {'const': 'edgeml.ModelCard'}
    """
    text = resources.files("edgeml").joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema
