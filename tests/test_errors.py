"""The error tree drawn in errors.py is the tree the code defines (issue 15): every SyswardenError subclass of
every module is in the picture, under the parent drawn there, and exit code 2 means bad input."""
from __future__ import annotations

import importlib
import pkgutil
import re

import syswarden
from syswarden import errors
from syswarden.errors import CompileError, InputError, SyswardenError

_LINE = re.compile(r"^(?P<indent>(?:[│ ] {3})*)(?:[├└]── )?(?P<name>[A-Z][A-Za-z]+Error)\b")


def _documented() -> dict[str, str | None]:
    """Class name -> parent name, read from the tree in errors.py's docstring (indentation is the depth)."""
    assert errors.__doc__ is not None
    block = errors.__doc__.split("::", 1)[1].split("\n\n")[1]
    parents: dict[str, str | None] = {}
    stack: list[str] = []
    for raw in block.splitlines():
        line = raw[4:]                                    # the literal block's own indentation
        match = _LINE.match(line)
        assert match, raw
        depth = len(match.group("indent")) // 4 + (1 if line.lstrip("│ ").startswith(("├", "└")) else 0)
        del stack[depth:]
        parents[match.group("name")] = stack[-1] if stack else None
        stack.append(match.group("name"))
    return parents


def _defined() -> dict[str, str | None]:
    """Class name -> parent name, from the classes themselves, after importing every module."""
    for info in pkgutil.walk_packages(syswarden.__path__, "syswarden."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    found: dict[str, str | None] = {SyswardenError.__name__: None}
    todo = [SyswardenError]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            assert sub.__name__ not in found, f"two error classes named {sub.__name__}"
            found[sub.__name__] = cls.__name__
            todo.append(sub)
    return found


def test_the_documented_tree_is_the_defined_tree() -> None:
    documented = _documented()
    assert len(documented) > 20
    assert _defined() == documented


def test_exit_code_two_is_input_or_compile() -> None:
    """An error the CLI exits 2 for is bad input (so ``except InputError`` sees it), or a policy too large to
    compile, the one documented exception."""
    _defined()
    todo = [SyswardenError]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.exit_code == 2:
            assert issubclass(cls, (InputError, CompileError)), cls
