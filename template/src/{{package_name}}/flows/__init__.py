"""One package per department, each with ingestion, processing, analysis and pipeline flows."""

import importlib
import pkgutil
from types import ModuleType

# Each department package has one module, and one flow, per stage.
STAGES = ("ingestion", "processing", "analysis", "pipeline")


def departments() -> list[str]:
    """The department packages, sorted."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if m.ispkg)


def stage_module(department: str, stage: str) -> ModuleType:
    """The module of one department's flow, e.g. `stage_module("sales", "pipeline")`."""
    return importlib.import_module(f"{__name__}.{department}.{stage}")


def department_data(department: str) -> ModuleType:
    """A department's `data` module: its default SOURCES and the SCHEMA of their records."""
    return importlib.import_module(f"{__name__}.{department}.data")
