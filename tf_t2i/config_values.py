"""Recipe values: flattening, YAML line numbers and type checks against the config dataclasses.

`tf_t2i.config.Config` reads every recipe key through these, so a wrong key or
type is an error naming the key, the recipe file and its line:

    flatten({"train": {"steps": 3}})             -> [("train.steps", 3)]
    check_value("32", int, "train.steps", where)  -> T2IError "... must be an integer"
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any

import yaml

from tf_t2i.errors import T2IError


def flatten(values: Mapping, prefix: str = "") -> list[tuple[str, Any]]:
    """{"train": {"steps": 3}} -> [("train.steps", 3)]; free-form dicts stay whole."""
    items = []
    for key, value in values.items():
        dotted = f"{prefix}{key}"
        if not prefix and key in ("data", "model", "train"):
            if value is None:
                continue
            if not isinstance(value, Mapping):
                raise T2IError(f"section {key!r} must be a mapping, got {value!r}")
            items.extend(flatten(value, prefix=f"{key}."))
        else:
            items.append((dotted, value))
    return items


def key_lines(text: str) -> dict[str, int]:
    """Dotted key -> 1-based line number in a YAML document (two levels deep)."""
    lines: dict[str, int] = {}
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return lines
    if not isinstance(root, yaml.MappingNode):
        return lines
    for key_node, value_node in root.value:
        lines[key_node.value] = key_node.start_mark.line + 1
        if isinstance(value_node, yaml.MappingNode):
            for sub_key, _ in value_node.value:
                lines[f"{key_node.value}.{sub_key.value}"] = sub_key.start_mark.line + 1
    return lines


def field_types(cls) -> dict[str, Any]:
    """Field name -> its resolved type hint, for a config dataclass."""
    hints = typing.get_type_hints(cls)
    return {field.name: hints[field.name] for field in dataclasses.fields(cls)}


def set_nested(target: dict, parts: list[str], value: Any) -> None:
    """Sets target[parts[0]][parts[1]]... = value, making the mappings on the way."""
    for part in parts[:-1]:
        target = target.setdefault(part, {})
        if not isinstance(target, dict):
            raise T2IError(f"cannot set {'.'.join(parts)}: {part} is not a mapping")
    target[parts[-1]] = value


def check_value(value: Any, hint: Any, key: str, where: str) -> Any:
    """Returns `value` converted to the type `hint`, or raises naming the key."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in args:
            if option is type(None):
                continue
            try:
                return check_value(value, option, key, where)
            except T2IError as err:
                errors.append(str(err))
        raise T2IError(errors[0] if errors else f"{where}: bad value for {key!r}")
    if hint is Any:
        return value
    if origin in (list, tuple) or hint in (list, tuple):
        if isinstance(value, str) and origin is not None and args and args[0] is str:
            value = [value]  # a single caption / condition name
        if not isinstance(value, list | tuple):
            raise T2IError(f"{where}: {key} must be a list, got {value!r}")
        item_type = args[0] if args else Any
        items = [check_value(item, item_type, key, where) for item in value]
        return tuple(items) if (origin or hint) is tuple else items
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise T2IError(f"{where}: {key} must be a mapping, got {value!r}")
        return dict(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise T2IError(f"{where}: {key} must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise T2IError(f"{where}: {key} must be an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise T2IError(f"{where}: {key} must be a number, got {value!r}")
        return float(value)
    if hint is str:
        if value is None:
            return ""
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise T2IError(f"{where}: {key} must be a string, got {value!r}")
        return str(value)
    return value


def plain(value: Any) -> Any:
    """Tuples -> lists, recursively, so YAML/JSON round trips compare equal."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value
