"""Command-line helpers behind the Makefile targets (`python -m <package>.ops.<name>`)."""

import os
import sys
import traceback
from pathlib import Path
from types import TracebackType

OPS = Path(__file__).resolve().parent
PACKAGE = OPS.parent


def _code_that_does_not_import(
    kind: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    """A command that the project's code stops as it is imported (a typo in core/, a missing
    dependency) says so in one line with the file and line; other failures keep their traceback."""
    frames = [f for f in traceback.extract_tb(tb) if Path(f.filename).is_relative_to(PACKAGE)]
    if isinstance(exc, SyntaxError) and Path(exc.filename or "/").is_relative_to(PACKAGE):
        file, line, what = str(exc.filename), exc.lineno, exc.msg
    elif isinstance(exc, Exception) and any(  # not Ctrl-C while the imports run
        f.name == "<module>" and not Path(f.filename).is_relative_to(OPS) for f in frames
    ):
        file, line, what = frames[-1].filename, frames[-1].lineno, str(exc)
    else:
        sys.__excepthook__(kind, exc, tb)
        return
    print(f"error: the project's code does not import: {kind.__name__}: {what} "
          f"({os.path.relpath(file)}, line {line})", file=sys.stderr)  # fmt: skip


sys.excepthook = _code_that_does_not_import
