"""Load a private copy of ``test_utils`` from its source files, for hidden test cells.

A student's answer cell runs in the same kernel before the hidden tests. It can rebind
``comparator``/``summary`` in the notebook, or monkeypatch ``test_utils`` and its submodules
(``test_utils.comparator = lambda *a: None``). A hidden test cell therefore does not use those
objects: it executes this file afresh (``runpy``) after finding the package directory through
the import finders (``sys.meta_path``), never through ``sys.modules``, and calls
:func:`private_copy`, which executes every module of the package again under a random,
unregistered name. Nothing the student changed in ``test_utils`` reaches the copy.

Deliberately out of scope: code that patches Python itself (``runpy``, ``importlib``,
``sys.meta_path``, builtins) or Keras. That cannot be prevented from inside the same kernel,
and it is plain to see in the submission.

This file must stay self-contained (no imports from the package) because it is run by path.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import secrets
import sys
from types import ModuleType

__all__ = ["private_copy"]


def private_copy(package_dir: str | None = None) -> ModuleType:
    """A fresh ``test_utils`` package executed from the ``.py`` files in ``package_dir``.

    ``package_dir`` defaults to the directory of this file. Every top-level module of the
    package is loaded, so ``copy.comparator``, ``copy.summary``, ``copy.evidence``
    and the other submodules (e.g. ``copy.compare``) are all private. The copy is registered in
    ``sys.modules`` only while it loads, under a random name nothing else can refer to.
    """
    root = os.path.abspath(package_dir or os.path.dirname(os.path.abspath(__file__)))
    init = os.path.join(root, "__init__.py")
    if not os.path.isfile(init):
        raise ImportError(f"no test_utils package in {root!r}")
    name = f"_test_utils_private_{secrets.token_hex(8)}"
    spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[root])
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {init!r}")
    package = importlib.util.module_from_spec(spec)
    sys.modules[name] = package
    try:
        spec.loader.exec_module(package)
        for entry in sorted(os.listdir(root)):
            stem, ext = os.path.splitext(entry)
            if ext == ".py" and stem != "__init__" and stem.isidentifier():
                importlib.import_module(f"{name}.{stem}")
    finally:
        for key in [key for key in sys.modules if key == name or key.startswith(name + ".")]:
            del sys.modules[key]
    return package
