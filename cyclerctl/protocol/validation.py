"""pydantic's validation errors, said in the words of the file the user wrote.

pydantic locates an error by a ``loc`` that mixes the document's keys with its own
labels (union members, discriminator tags). We walk the raw TOML data along the loc to
keep only the document's keys (so the error lands on the right line), merge the
"not an int / not a string" alternatives of a union into one message, and name the
fields a table does allow when a misspelt one is found.
"""

from __future__ import annotations

import difflib
import json
import types
import typing
from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from .errors import ErrorSink, KeyPath
from .model import STEP_TYPES

M = TypeVar("M", bound=BaseModel)

# What each "wrong type" error expected, to merge the members of a union.
_EXPECTED: dict[str, str] = {
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "int_parsing": "a whole number",
    "string_type": "a string in quotes",
    "bool_type": "true or false",
    "float_type": "a number",
    "list_type": "a list [...]",
    "dict_type": "a table { ... }",
    "model_type": "a table { ... }",
    "model_attributes_type": "a table { ... }",
}

_COUNT_FIELDS = ("count", "points_per_decade", "averages", "cycles")


def validate(model: type[M], data: Any, sink: ErrorSink) -> M | None:
    """``model`` from ``data``, or None with every problem added to ``sink``."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        report(exc.errors(), model, data, sink)
        return None


def report(
    errors: Sequence[ErrorDetails], model: type[BaseModel], data: Any, sink: ErrorSink
) -> None:
    located = [(_document_path(e["loc"], data), e) for e in errors]
    # A wrong-type complaint about a value that also has errors deeper inside is noise:
    # the value is a table and the deeper errors say what is wrong with it.
    deeper = {path[:n] for path, _ in located for n in range(len(path))}
    by_path: dict[KeyPath, list[ErrorDetails]] = {}
    for path, error in located:
        if error["type"] in _EXPECTED and path in deeper:
            continue
        by_path.setdefault(path, []).append(error)
    for path, group in by_path.items():
        type_errors = [e for e in group if e["type"] in _EXPECTED]
        if len(type_errors) > 1:
            wanted = list(dict.fromkeys(_EXPECTED[e["type"]] for e in type_errors))
            if path and path[-1] in _COUNT_FIELDS and "a whole number" in wanted:
                wanted = ["a whole number or a '{parameter}' reference"]
            shown = _toml_repr(type_errors[0]["input"])
            sink.add(path, f"expected {' or '.join(wanted)}, got {shown}")
            group = [e for e in group if e["type"] not in _EXPECTED]
        for error in group:
            sink.add(path, _message(error, path, model, data))


def _document_path(loc: tuple[int | str, ...], data: Any) -> KeyPath:
    """The part of a pydantic ``loc`` that names keys and indices of ``data``."""
    path: list[str | int] = []
    node = data
    for part in loc:
        if _has(node, part):
            path.append(part)
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str) and _is_field_name(part, node):
            path.append(part)  # a missing key: the error is about the key itself
            node = None
        # anything else is pydantic's own label (a union member or a tag): skip it
    return tuple(path)


def _has(node: Any, part: int | str) -> bool:
    if isinstance(node, dict):
        return isinstance(part, str) and part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


def _is_field_name(part: str, node: dict[str, Any]) -> bool:
    """A missing key is a field name; a union tag is the node's type or a type name."""
    if node.get("type") == part or part in STEP_TYPES:
        return False
    return part[:1].islower() and part not in ("int", "str", "bool", "float", "list[str]")


def _message(error: ErrorDetails, path: KeyPath, model: type[BaseModel], data: Any) -> str:
    kind = error["type"]
    given = error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return f"required field '{path[-1]}' is missing" if path else "required field is missing"
    if kind == "extra_forbidden":
        name = str(path[-1]) if path else "?"
        allowed = _allowed_fields(model, data, path[:-1])
        close = difflib.get_close_matches(name, allowed, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        listed = f"; allowed here: {', '.join(allowed)}" if allowed else ""
        return f"unknown field '{name}'{hint}{listed}"
    if kind == "union_tag_invalid":
        tag = given.get("type") if isinstance(given, dict) else ctx.get("tag")
        shown = _toml_repr(tag)
        return f"unknown step type {shown}; the step types are: {', '.join(STEP_TYPES)}"
    if kind == "union_tag_not_found":
        return f"the step has no 'type'; the step types are: {', '.join(STEP_TYPES)}"
    if kind == "literal_error":
        return (
            f"expected {ctx.get('expected', 'one of the listed values')}, got {_toml_repr(given)}"
        )
    if kind == "string_type":
        return f'expected a string in quotes (e.g. "4.2 V"), got {_toml_repr(given)}'
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {_toml_repr(given)}"
    if kind == "too_short":
        return "needs at least one step" if path and path[-1] == "steps" else error["msg"]
    if kind == "string_pattern_mismatch":
        return f"expected a name of letters, digits and _, got {_toml_repr(given)}"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return str(error["msg"])


def _allowed_fields(model: type[BaseModel], data: Any, path: KeyPath) -> list[str]:
    """The field names (as written in files) of the table at ``path``."""
    annotation: Any = model
    node = data
    for part in path:
        if isinstance(part, int):  # an element of a list: its model is picked below
            node = node[part] if isinstance(node, list) and part < len(node) else None
            continue
        if typing.get_origin(annotation) is dict:  # a free key, e.g. a parameter's name
            annotation = typing.get_args(annotation)[1]
            node = node.get(part) if isinstance(node, dict) else None
            continue
        current = _model_in(annotation, node)
        if current is None:
            return []
        info = current.model_fields.get(part) or next(
            (f for f in current.model_fields.values() if f.alias == part), None
        )
        if info is None:
            return []
        annotation = info.annotation
        node = node.get(part) if isinstance(node, dict) else None
    found = _model_in(annotation, node)
    names = [] if found is None else [f.alias or name for name, f in found.model_fields.items()]
    return sorted(names, key=lambda n: n != "type")  # "type" first, then file order


def _model_in(annotation: Any, node: Any) -> type[BaseModel] | None:
    """The model class inside a field's annotation (a step picked by the node's type)."""
    candidates: list[type[BaseModel]] = []
    stack = [annotation]
    while stack:
        item = stack.pop()
        if isinstance(item, type) and issubclass(item, BaseModel):
            candidates.append(item)
        elif typing.get_origin(item) is typing.Annotated:
            stack.append(typing.get_args(item)[0])
        elif typing.get_origin(item) in (typing.Union, types.UnionType, list):
            stack.extend(typing.get_args(item))
    if isinstance(node, dict) and "type" in node:
        for candidate in candidates:
            field = candidate.model_fields.get("type")
            if field is not None and node["type"] in typing.get_args(field.annotation):
                return candidate
    return candidates[0] if len(candidates) == 1 else None


def _toml_repr(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return repr(value)
