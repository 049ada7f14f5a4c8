"""YAML text of `benchmark.yaml`: safe loading with line numbers in errors and duplicate keys
refused, within limits (docs/formats.md, "Benchmark bundles").

PyYAML's safe loader shares the node an alias (*name) repeats instead of copying it, so nine
aliases of nine aliases of nine values cost little to load; but everything that walks the spec
afterwards (the checks, the database's JSON, an export) expands them. So the composer counts the
values as if expanded and stops past MAX_SPEC_VALUES, refuses an alias inside the node it
repeats (a cycle), and refuses nesting past MAX_DEPTH before its own recursion runs out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.composer import ComposerError

from benchmarks.bundles.errors import BundleError
from benchmarks.bundles.limits import MAX_DEPTH, MAX_SPEC_BYTES, MAX_SPEC_VALUES, megabytes

SPEC_FILENAME = "benchmark.yaml"


def spec_read(root: Path) -> Any:
    """The parsed `benchmark.yaml` of the bundle folder `root`, read within MAX_SPEC_BYTES."""
    try:
        with open(root / SPEC_FILENAME, "rb") as fh:
            data = fh.read(MAX_SPEC_BYTES + 1)
    except OSError as exc:
        raise BundleError(f"{SPEC_FILENAME}: cannot be read ({exc.strerror})") from None
    if len(data) > MAX_SPEC_BYTES:
        raise BundleError(
            f"{SPEC_FILENAME}: larger than {megabytes(MAX_SPEC_BYTES)}; it describes the "
            "benchmark, and the data goes in the files it names"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BundleError(f"{SPEC_FILENAME}: expected UTF-8 text") from None
    return yaml_parse(text)


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
    except (ValueError, OverflowError, IndexError, AttributeError, TypeError, KeyError) as exc:
        # A scalar its type cannot hold: a date like 2024-13-45, an integer of 5,000 digits, an
        # explicit tag on an empty value (`!!int ''`, on which PyYAML's constructors fail).
        raise BundleError(f"{SPEC_FILENAME}: a value cannot be read ({_first_line(exc)})") from None


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


class _StrictLoader(yaml.SafeLoader):
    def __init__(self, stream):
        super().__init__(stream)
        self._values = 0  # nodes composed so far, an alias counting as all of its node's
        self._depth = 0
        self._sizes: dict[str, int] = {}  # anchor → the values its node stands for

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            size = self._sizes.get(event.anchor)
            if size is None and event.anchor in self.anchors:
                raise ComposerError(
                    None,
                    None,
                    f"alias *{event.anchor} is inside the node it repeats (a cycle)",
                    event.start_mark,
                )
            self._count(size or 0, event)  # an undefined alias is the composer's error
            return super().compose_node(parent, index)
        if self._depth >= MAX_DEPTH:
            raise ComposerError(
                None, None, f"nested more than {MAX_DEPTH} levels deep", event.start_mark
            )
        start = self._values
        self._count(1, event)
        self._depth += 1
        node = super().compose_node(parent, index)
        self._depth -= 1
        if event.anchor is not None:
            self._sizes[event.anchor] = self._values - start
        return node

    def _count(self, n: int, event) -> None:
        self._values += n
        if self._values > MAX_SPEC_VALUES:
            raise ComposerError(
                None,
                None,
                f"more than {MAX_SPEC_VALUES:,} values once its aliases (*name) are expanded",
                event.start_mark,
            )


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
