"""YAML text of `benchmark.yaml`: safe loading with line numbers in errors and duplicate keys
refused."""

from __future__ import annotations

from typing import Any

import yaml

from benchmarks.bundles.errors import BundleError

SPEC_FILENAME = "benchmark.yaml"


def yaml_parse(text: str) -> Any:
    """YAML text → Python data. Errors carry the line number; duplicate keys are errors (YAML
    loaders otherwise keep the last one silently)."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise BundleError(f"{SPEC_FILENAME}{where}: {problem}") from None
    except yaml.YAMLError as exc:
        raise BundleError(f"{SPEC_FILENAME}: invalid YAML ({exc})") from None


class _StrictLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            duplicate = key in seen
            seen.add(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark
            ) from None
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key '{key}'", key_node.start_mark
            )
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
