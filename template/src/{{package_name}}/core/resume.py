"""Resume without redoing: the one rule every task of the pipeline follows.

A unit of work (a *step*) names the objects it reads and the objects it writes.
Its *recipe* is a hash of the code it runs, its parameters and the fingerprints of
what it reads. When a step finishes, a record of it is stored beside its first
output (`.done/<output key>.json`): the recipe, the fingerprint of every output, and
the step's small result. Before a step runs, that record is checked; the step is
skipped, and its recorded result returned, only if the recipe is the same and every
output is still there, unchanged. So:

- a rerun after a crash skips every step that finished, and redoes the rest;
- deleting (or editing) an output redoes exactly the step that wrote it, and, since
  the rewritten output has a new fingerprint, the steps that read it;
- editing the code a step uses (any module of the package it calls, not only its own
  body) or changing what it reads changes its recipe, so it runs again;
- `refresh=True` redoes every step.

Prefect's task cache is not used for this: it cannot see that an output was deleted,
and its source-based key covers the task's own body only.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import json
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import CodeType, FunctionType, ModuleType
from typing import Any

from .storage import ObjectStore, join_key

DONE_FOLDER = ".done"
# Parsing source (ast.parse, and inspect.getsource for a class) in several threads at
# once can fail with "SystemError: AST constructor recursion depth mismatch" (seen on
# CPython 3.11.7, python/cpython#106905): the task runner's threads take turns.
_PARSING = threading.Lock()


@dataclass(frozen=True)
class Step:
    """What one unit of work reads and writes."""

    name: str
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    params: Mapping[str, Any]


def record_key(step: Step) -> str:
    return join_key(DONE_FOLDER, f"{step.writes[0]}.json")


def recipe(step: Step, store: ObjectStore, code: str) -> str:
    """The hash that must match for the step's stored outputs to be reused."""
    document = {
        "step": step.name,
        "code": code,
        "params": step.params,
        "reads": {key: store.fingerprint(key) for key in step.reads},
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()


def run_step(
    store: ObjectStore,
    step: Step,
    work: Callable[[], dict[str, Any]],
    *,
    code: str,
    refresh: bool = False,
) -> tuple[dict[str, Any], bool]:
    """Return `(result, reused)`: the recorded result if the step is current, else
    `work()`'s result (a JSON-able dict) after recording it."""
    wanted = recipe(step, store, code)
    if not refresh:
        recorded = _read_record(store, step)
        if (
            recorded is not None
            and recorded.get("recipe") == wanted
            and recorded.get("outputs") == {key: store.fingerprint(key) for key in step.writes}
        ):
            return dict(recorded["result"]), True
    result = work()
    record = {
        "recipe": wanted,
        "outputs": {key: store.fingerprint(key) for key in step.writes},
        "result": result,
    }
    store.write(record_key(step), json.dumps(record, sort_keys=True, indent=1).encode())
    return result, False


def _read_record(store: ObjectStore, step: Step) -> dict[str, Any] | None:
    key = record_key(step)
    if not store.exists(key):
        return None
    try:
        document = json.loads(store.read(key))
    except ValueError:  # a damaged record counts as no record
        return None
    return document if isinstance(document, dict) else None


def code_fingerprint(*functions: Callable[..., Any]) -> str:
    """A hash of the code the functions run, within this package.

    It covers the functions' own source, the source of the functions and classes of
    their module that they call, and the whole source of every other package module
    they use, with the package modules those import. A change anywhere in that code
    changes the hash; a module they never reach does not.
    """
    with _PARSING:
        return _code_fingerprint(functions)


def _code_fingerprint(functions: tuple[Callable[..., Any], ...]) -> str:
    sources: dict[str, str] = {}
    modules: set[str] = set()
    pending: list[Any] = list(functions)
    while pending:
        obj = inspect.unwrap(pending.pop())
        label = f"{obj.__module__}.{obj.__qualname__}"
        if label in sources:
            continue
        sources[label] = inspect.getsource(obj)
        if not isinstance(obj, FunctionType):
            continue
        for name in _names(obj.__code__):
            value = obj.__globals__.get(name)
            module = value if isinstance(value, ModuleType) else inspect.getmodule(value)
            if module is None or _package_of(module.__name__) != _package_of(obj.__module__):
                continue
            if module.__name__ == obj.__module__:
                if isinstance(value, (FunctionType, type)):
                    pending.append(value)  # a helper beside it: its source only
            else:
                modules.add(module.__name__)
    for name in _import_closure(modules):
        sources[name] = _module_source(name)
    digest = hashlib.sha256()
    for label in sorted(sources):
        digest.update(f"{label}\0{sources[label]}\0".encode())
    return digest.hexdigest()


def _package_of(name: str) -> str:
    return name.split(".", 1)[0]


def _names(code: CodeType) -> Iterable[str]:
    yield from code.co_names
    for constant in code.co_consts:
        if isinstance(constant, CodeType):
            yield from _names(constant)


def _import_closure(modules: set[str]) -> set[str]:
    """The modules plus every package module they import, transitively."""
    seen: set[str] = set()
    pending = list(modules)
    while pending:
        name = pending.pop()
        if name in seen or name not in sys.modules:
            continue
        seen.add(name)
        pending.extend(_package_imports(name))
    return seen


def _package_imports(name: str) -> list[str]:
    package = _package_of(name)
    is_package = hasattr(sys.modules[name], "__path__")
    base = name.split(".") if is_package else name.split(".")[:-1]
    imported: list[str] = []
    for node in ast.walk(ast.parse(_module_source(name))):
        if isinstance(node, ast.ImportFrom):
            parent = base[: len(base) - node.level + 1] if node.level else []
            target = ".".join([*parent, *(node.module.split(".") if node.module else [])])
            if _package_of(target) == package:
                imported.append(target)
                imported += [f"{target}.{alias.name}" for alias in node.names]  # submodules
        elif isinstance(node, ast.Import):
            imported += [a.name for a in node.names if _package_of(a.name) == package]
    return [module for module in imported if module in sys.modules]


def _module_source(name: str) -> str:
    path = getattr(sys.modules[name], "__file__", None)
    return Path(path).read_text(encoding="utf-8") if path else ""
