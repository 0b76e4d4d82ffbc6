"""Warm kernels: a submission's kernel forked from a worker that has already imported its packages.

Importing TensorFlow and starting ipykernel take about half of the CPU a U-Net submission costs.
A worker forked from the fork server (:mod:`autograder.host.forkserver`) already has those modules in
memory, so at its very start, before it reads anything about the submission, it forks a *pending
kernel*: a child that waits on a pipe. When nbgrader's ``Execute`` asks Jupyter for a kernel,
:class:`WarmKernelManager` hands the connection file to the pending kernel instead of starting a
fresh interpreter. The child then confines itself exactly as :mod:`autograder.sandbox.launch`
would (cgroups, namespaces, its own uid, rlimits, a clean environment), closes every inherited
file descriptor and runs ipykernel in-process. Student code only ever runs after that.

Without a pending kernel (a container worker, ``--no-warm``, or a second kernel in one
submission) the manager starts the sandboxed kernel the usual way.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import traceback
import uuid
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner

from autograder.sandbox import limits as sandbox, launch as sandbox_launch

_pending: "PendingKernel | None" = None


class PendingKernel:
    """A forked child waiting for its connection file; a ``subprocess.Popen`` look-alike for Jupyter."""

    stdin = stdout = stderr = None

    def __init__(self, policy_file: Path) -> None:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child never returns from here
            os.close(write_end)
            _serve(read_end, policy_file)
        os.close(read_end)
        try:
            os.setpgid(pid, pid)  # also done by the child: whichever runs first wins the race
        except OSError:
            pass
        self.pid = pid
        self.returncode: int | None = None
        self._pipe: int | None = write_end

    def start(self, connection_file: str, env: dict[str, str]) -> None:
        """Let the child confine itself and start the kernel on ``connection_file`` with ``env``.

        ``env`` must already be free of secrets: the child keeps what it is sent in its memory.
        """
        assert self._pipe is not None, "a pending kernel starts only once"
        message = json.dumps({"connection_file": connection_file, "env": env}).encode()
        while message:
            message = message[os.write(self._pipe, message):]
        os.close(self._pipe)
        self._pipe = None

    def poll(self) -> int | None:
        """The exit code (negative: killed by that signal), or None while it runs."""
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                self.returncode = -signal.SIGKILL
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the child to end (``subprocess.TimeoutExpired`` after ``timeout`` seconds)."""
        if timeout is None:
            if self.returncode is None:
                try:
                    self.returncode = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
                except ChildProcessError:
                    self.returncode = -signal.SIGKILL
            return self.returncode
        deadline = time.monotonic() + timeout
        while self.poll() is None:
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout)
            time.sleep(0.05)
        return self.returncode  # type: ignore[return-value]

    def send_signal(self, signum: int) -> None:
        """Signal the kernel (not the worker: the child has its own process group)."""
        if self.poll() is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        """SIGKILL the kernel."""
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        """SIGTERM the kernel."""
        self.send_signal(signal.SIGTERM)

    def discard(self) -> None:
        """Close the pipe unused: the child exits without ever confining or running anything."""
        if self._pipe is not None:
            os.close(self._pipe)
            self._pipe = None
            self.wait(timeout=10)


def fork_pending(policy_file: Path) -> PendingKernel:
    """Fork this process's pending kernel (call before the worker reads anything about the submission)."""
    global _pending
    _pending = PendingKernel(policy_file)
    return _pending


def take_pending() -> PendingKernel | None:
    """The pending kernel, once; None when there is none or it was used."""
    global _pending
    pending, _pending = _pending, None
    return pending


def discard_pending() -> None:
    """Let an unused pending kernel exit (a submission that never reached the kernel)."""
    pending = take_pending()
    if pending is not None:
        pending.discard()


def _serve(read_end: int, policy_file: Path) -> None:
    """Child side: wait for the connection file, confine, run ipykernel; always ``os._exit``."""
    code = 1
    try:
        os.setpgid(0, 0)  # the worker's interrupts and kills of the kernel's group never reach the worker
        _close_fds(keep=read_end)
        chunks = []
        while chunk := os.read(read_end, 65536):
            chunks.append(chunk)
        os.close(read_end)
        if not chunks:  # discarded, or the worker died
            os._exit(0)
        request = json.loads(b"".join(chunks))
        connection_file = request["connection_file"]
        with open(policy_file) as fh:  # root-only; read before the uid changes
            policy = json.load(fh)
        try:
            env = sandbox_launch.clean_env(policy, request["env"])
            sandbox_launch.confine(policy, connection_file)  # returns only in the confined kernel (filter loaded)
        except (OSError, ValueError, re.error) as error:
            sandbox_launch.refuse(error)
        _forget_the_grader()
        os.environ.clear()
        os.environ.update(env)
        sys.path[:] = _kernel_sys_path(env)
        _fresh_process_state(connection_file)
        from ipykernel.kernelapp import IPKernelApp

        IPKernelApp.launch_instance(argv=["-f", connection_file])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - report anything, then leave without running the worker's code
        os.write(2, traceback.format_exc().encode(errors="replace"))  # fd 2: sys.stderr may be anyone's
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _forget_the_grader() -> None:
    """Drop the grader's modules this fork inherited (worker, sandbox, contracts): the kernel imports only
    what a notebook imports. None of them holds reference answers: the judge is imported after this fork."""
    for name in [n for n in sys.modules if n == "autograder" or n.startswith("autograder.")]:
        del sys.modules[name]


def _fresh_process_state(connection_file: str) -> None:
    """What a newly started kernel would have: its own argv and fresh random state (``random`` reseeds itself)."""
    import importlib.util

    spec = importlib.util.find_spec("ipykernel_launcher")
    sys.argv[:] = [spec.origin if spec and spec.origin else "ipykernel_launcher", "-f", connection_file]
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()  # forks of one server would otherwise share numpy's global generator


def _close_fds(keep: int) -> None:
    """Close every inherited descriptor but stdio and ``keep``; stdin becomes /dev/null."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd != keep:
            try:
                os.close(fd)
            except OSError:
                pass


def _kernel_sys_path(env: dict[str, str]) -> list[str]:
    """What a fresh ``python -m ipykernel_launcher`` would search: PYTHONPATH, then the installation."""
    prefixes = tuple({os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix), sys.prefix, sys.base_prefix})
    extra = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    installed = {*sandbox.site_packages(), *sandbox.pth_folders()}  # also those outside the installation
    return extra + [p for p in sys.path if p and (p.startswith(prefixes) or os.path.realpath(p) in installed)
                    and p not in extra]


class WarmProvisioner(LocalProvisioner):  # type: ignore[misc]
    """Jupyter's local provisioner, handing the kernel to the pending child when there is one."""

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> Any:
        """Start the pending kernel on the connection file in ``cmd``; else launch ``cmd``."""
        pending = take_pending() if "-f" in cmd else None
        if pending is None or pending.poll() is not None:
            return await super().launch_kernel(cmd, **kwargs)
        # The environment Jupyter would give the kernel (nbgrader adds NBGRADER_EXECUTION), cut to the kernel's
        # allow-list here, in the worker, so that no secret ever reaches the child's memory.
        env = kwargs.get("env") or dict(os.environ)
        pending.start(cmd[cmd.index("-f") + 1], sandbox.kernel_env(env, only_allowed=True))
        self.process = pending
        self.pid = self.pgid = pending.pid
        self.cwd = kwargs.get("cwd")
        return self.connection_info


class WarmKernelManager(AsyncKernelManager):  # type: ignore[misc]
    """The kernel manager nbgrader's ``Execute`` uses in the sandbox: warm when it can be."""

    async def _async_pre_start_kernel(self, **kw: Any) -> Any:
        if self.provisioner is None and _pending is not None:
            self.kernel_id = self.kernel_id or kw.pop("kernel_id", None) or str(uuid.uuid4())
            self.provisioner = WarmProvisioner(kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self)
        return await super()._async_pre_start_kernel(**kw)
