"""The Python every account of the hub runs: the kit's environment, or a thin one beside it that others can reach.

Each person's server runs as their own Unix account. Where the kit's environment was made from an interpreter in a
closed folder (pyenv in root's ``0700`` home, as on the kit's CI machines), no other account can start it. Then the
hub copies the kit's interpreter (without packages) into its state folder and makes a small environment on it: no
packages of its own, the kit's installed packages on its path (a ``.pth`` file), the kit's Jupyter data and settings
linked in, and the few commands the servers run. No package is copied or installed.
"""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

from autograder.errors import UserError

__all__ = ["COMMANDS", "ensure", "reachable"]

#: command -> (module, function) of the entry points the hub's servers run from PATH.
COMMANDS = {
    "jupyterhub-singleuser": ("jupyterhub.singleuser", "main"),
    "jupyter": ("jupyter_core.command", "main"),
    "nbgrader": ("nbgrader.apps.nbgraderapp", "main"),
    "alembic": ("alembic.config", "main"),
}


def reachable(path: Path) -> bool:
    """True when an account other than the owner can run ``path`` (every folder on the way passable)."""
    from autograder.platforms.hub.accounts import reachable_problem

    target = Path(os.path.realpath(path))
    return reachable_problem(target.parent) is None and bool(stat.S_IMODE(target.stat().st_mode) & 0o001)


def _open_to_all(top: Path) -> None:
    """Every folder under ``top`` 0755, every file readable (and runnable where its owner may run it) by all: the
    hub may run under any umask (077 included), and every account runs these files."""
    for folder, _dirs, names in os.walk(top):
        os.chmod(folder, 0o755)
        for name in names:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                mode = os.stat(path).st_mode
                os.chmod(path, mode | 0o444 | (0o111 if mode & 0o100 else 0))


def _query(python: Path, code: str) -> str:
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def _interpreter(kit_python: Path, state: Path) -> Path:
    """A copy of the kit's interpreter (its installation without its own site-packages) that every account can run.

    The same build as the kit's environment, not merely the same version: a system Python 3.11 of another patch
    release can break the kit's packages (Debian's 3.11.2 fails soupsieve's selectors, so nbconvert's HTML feedback).
    The copy's library path is made relative with ``patchelf``, since the original names its closed folder.
    """
    base = Path(_query(kit_python, "import sys; print(sys.base_prefix)"))
    version = _query(kit_python, "import sys; print(sys.version)")
    copy = state / "python"
    stamp = copy / ".unet-copy-of"
    if stamp.is_file() and stamp.read_text(encoding="utf-8") == f"{base}\n{version}\n":
        return copy / "bin" / Path(os.path.realpath(kit_python)).name
    if shutil.which("patchelf") is None:
        raise UserError(f"the kit's Python ({os.path.realpath(kit_python)}) cannot be run by other accounts, and "
                        "patchelf, needed to copy it where they can, is missing",
                        "install Debian's patchelf (make system-deps), or make the venv from a Python all accounts "
                        "can run (make setup PYTHON=...)")
    if copy.exists():
        shutil.rmtree(copy)
    site = f"lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages"
    shutil.copytree(base, copy, symlinks=True,
                    ignore=lambda folder, names: names if Path(folder) == base / site else [])
    binary = copy / "bin" / Path(os.path.realpath(kit_python)).name
    done = subprocess.run(["patchelf", "--set-rpath", "$ORIGIN/../lib", str(binary)], capture_output=True, text=True)
    if done.returncode != 0:
        raise UserError(f"patchelf could not adjust {binary} ({done.stderr.strip()[:200]})",
                        "make the venv from a Python all accounts can run (make setup PYTHON=...)")
    stamp.write_text(f"{base}\n{version}\n", encoding="utf-8")
    _open_to_all(copy)
    return binary


def ensure(kit_bin: Path, state: Path) -> Path:
    """The ``bin`` folder the hub's servers run from: ``kit_bin`` when others can reach its Python, else a thin
    environment in ``state/seat-env`` on a copy of the kit's interpreter (:func:`_interpreter`)."""
    if reachable(kit_bin / "python"):
        return kit_bin
    state.mkdir(parents=True, exist_ok=True)
    os.chmod(state, 0o755)
    interpreter = _interpreter(kit_bin / "python", state)
    env = state / "seat-env"
    done = subprocess.run([str(interpreter), "-m", "venv", "--without-pip", "--clear", str(env)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise UserError(f"could not make {env} ({done.stderr.strip()[:300]})", "check the state folder and try again")
    python = env / "bin" / "python"
    purelib = Path(_query(python, "import sysconfig; print(sysconfig.get_paths()['purelib'])"))
    kit_site = _query(kit_bin / "python", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    # addsitedir also reads the kit's own .pth files (its editable install of autograder, test_utils, data_fetch).
    (purelib / "unet-kit.pth").write_text(f"import site; site.addsitedir({kit_site!r})\n", encoding="utf-8")
    for name in ("share", "etc"):  # JupyterLab's app, nbgrader's lab extension, kernels, server extension settings
        link = env / name
        if link.is_symlink() or link.is_file():
            link.unlink()
        elif link.is_dir():
            shutil.rmtree(link)
        link.symlink_to(kit_bin.parent / name)
    for command, (module, function) in COMMANDS.items():
        script = env / "bin" / command
        script.write_text(f"#!{python}\nimport sys\nfrom {module} import {function}\nsys.exit({function}())\n",
                          encoding="utf-8")
        script.chmod(0o755)
    _open_to_all(env)
    return env / "bin"
