"""One student's kernel, seen from the trusted side: started in the sandbox, fed one cell at a
time, asked to call a function (:meth:`Kernel.request`), watched for memory and processes, and
stopped. Nothing the kernel sends is run or unpickled here: outputs are kept as notebook
outputs, answers are JSON files read with a size limit.
"""

import itertools
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from queue import Empty

import nbformat

from ...checks.results import Stopped
from . import sandbox

GB = 1024**3
MAX_ANSWER = 64 * 1024**2
MAX_OUTPUTS = 200
MAX_TEXT = 100_000


class KernelStopped(Exception):
    """The kernel ran past a limit or died; ``reason`` says which, in words. ``alive``: the
    kernel was interrupted in time and can go on."""

    def __init__(self, reason, alive=False):
        super().__init__(reason)
        self.reason = reason
        self.alive = alive


class Kernel:
    """A kernel for one job in ``job_dir`` (sandboxed unless ``sandboxed`` is False)."""

    def __init__(self, job_dir, limits, env, read_only=(), sandboxed=True):
        self.job = Path(job_dir)
        self.limits = limits
        self.env = env
        self.read_only = read_only
        self.sandboxed = sandboxed
        self.km = self.kc = None
        self.requests = itertools.count()
        self.breach = None

    # --- life ---------------------------------------------------------------------------------

    def _argv(self):
        kernel = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        if self.sandboxed:
            kernel = sandbox.argv(self.job, kernel, self.read_only, self.env)
        # The launcher is run as a file: it needs nothing but the standard library.
        launch = [sys.executable, str(Path(__file__).with_name("launch.py")), json.dumps(self.limits.to_dict())]
        return launch + kernel

    def start(self):
        # jupyter_client loads only when a kernel starts (it is not needed to read results).
        from jupyter_client import KernelManager
        from jupyter_client.kernelspec import KernelSpec

        argv = self._argv()

        class SandboxKernelManager(KernelManager):
            @property
            def kernel_spec(self):
                return KernelSpec(argv=argv, display_name="malaria-lab sandbox", language="python",
                                  interrupt_mode="message", env={})

        self.starts = getattr(self, "starts", 0) + 1
        run = self.job / "run" / str(self.starts)  # a new place each start: no stale sockets
        run.mkdir(parents=True, exist_ok=True)
        self.km = SandboxKernelManager(transport="ipc", ip=str(run / "kernel"),
                                       connection_file=str(run / "kernel.json"))
        # Sandboxed, bwrap sets the kernel's environment itself (--clearenv, --setenv).
        env = self.env if not self.sandboxed else {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        log = open(run / "kernel.log", "ab")  # the kernel's own chatter, kept out of the grader's terminal
        try:
            self.km.start_kernel(env=env, cwd=str(self.job), stdout=log, stderr=log)
        finally:
            log.close()
        self.kc = self.km.client()
        self.kc.start_channels()
        try:
            self.kc.wait_for_ready(timeout=60)
        except RuntimeError as err:
            raise KernelStopped(f"the kernel did not start ({err})") from None
        self.breach = None

    def restart(self):
        self.shutdown()
        self.start()

    def shutdown(self):
        if self.kc is not None:
            self.kc.stop_channels()
        if self.km is not None:
            try:
                self.km.shutdown_kernel(now=True)
            except Exception:  # already gone
                pass
            _kill_tree(self._pid())
        self.km = self.kc = None

    def _pid(self):
        provisioner = getattr(self.km, "provisioner", None)
        process = getattr(provisioner, "process", None)
        return getattr(process, "pid", None)

    # --- running code -------------------------------------------------------------------------

    def run(self, code, timeout, label):
        """Run ``code``; returns (outputs as nbformat dicts, error name or None). Raises
        :class:`KernelStopped` past the time limit (after trying to interrupt), or when the kernel
        dies or breaks a memory or process limit."""
        msg_id = self.kc.execute(code, store_history=True, allow_stdin=False)
        outputs, error = [], None
        deadline = time.monotonic() + timeout
        watch = _Watch(self)
        interrupted = False
        while True:
            if self.breach:
                self._stop()
                raise KernelStopped(self.breach.format(where=label))
            if not self.km.is_alive():
                self._stop()
                raise KernelStopped(f"the kernel died in {label} (out of memory, or the code ended the process)")
            if time.monotonic() > deadline:
                if interrupted:
                    self._stop()
                    raise KernelStopped(f"timed out in {label} after {timeout:g} s (and ignored the interrupt)")
                self.km.interrupt_kernel()
                interrupted, deadline = True, time.monotonic() + 10
            try:
                msg = self.kc.get_iopub_msg(timeout=0.2)
            except Empty:
                continue
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "status" and content.get("execution_state") == "idle":
                break
            if kind == "clear_output":
                outputs.clear()
            elif kind in ("stream", "display_data", "execute_result", "error"):
                if kind == "error":
                    error = content.get("ename", "Error")
                if len(outputs) < MAX_OUTPUTS:
                    outputs.append(_output(kind, content))
        watch.stop()
        if interrupted:
            raise KernelStopped(f"timed out in {label} after {timeout:g} s", alive=True)
        return outputs, error

    def request(self, message, timeout=None, label="a check"):
        """Ask the kernel's :func:`.remote.serve` to answer ``message``; returns the answer (JSON
        data), or raises :class:`~malaria_lab.checks.results.Stopped`."""
        rpc = self.job / "rpc"
        rpc.mkdir(exist_ok=True)
        n = next(self.requests)
        request, answer = rpc / f"{n}.in.json", rpc / f"{n}.out.json"
        request.write_text(json.dumps(message), encoding="utf-8")
        code = (f"__import__('malaria_lab.instructor.grader.remote', fromlist=['serve']).serve({str(request)!r})")
        timeout = timeout or self.limits.cell_seconds
        try:
            self.run(code, timeout, label)
        except KernelStopped as err:
            raise Stopped(f"Your code {err.reason}.") from None
        try:
            if answer.stat().st_size > MAX_ANSWER:
                raise Stopped("Your function's answer is too large to check.")
            data = json.loads(answer.read_text(encoding="utf-8"), parse_constant=_refuse)
        except FileNotFoundError:
            raise Stopped("The notebook's kernel did not answer (did the notebook replace Python's "
                          "built-in functions?).") from None
        except ValueError:
            raise Stopped("The notebook's kernel sent an answer that is not valid JSON.") from None
        finally:
            for path in (request, answer):
                path.unlink(missing_ok=True)
        if not isinstance(data, dict):
            raise Stopped("The notebook's kernel sent an answer of the wrong form.")
        return data

    def _stop(self):
        self.shutdown()


def _refuse(name):
    raise ValueError(name)


def _output(kind, content):
    """An nbformat output from a kernel message, text cut to a sane length."""
    return nbformat.from_dict(_plain_output(kind, content))


def _plain_output(kind, content):
    if kind == "stream":
        return {"output_type": "stream", "name": "stderr" if content.get("name") == "stderr" else "stdout",
                "text": _cut(content.get("text", ""))}
    if kind == "error":
        return {"output_type": "error", "ename": _cut(content.get("ename", ""), 200),
                "evalue": _cut(content.get("evalue", ""), 2000),
                "traceback": [_cut(t, 5000) for t in content.get("traceback", [])[:60]]}
    data = {k: (_cut(v) if isinstance(v, str) else v) for k, v in (content.get("data") or {}).items()
            if isinstance(k, str) and len(str(v)) < 8 * 1024**2}
    out = {"output_type": kind, "data": data, "metadata": content.get("metadata") or {}}
    if kind == "execute_result":
        out["execution_count"] = content.get("execution_count")
    return out


def _cut(text, limit=MAX_TEXT):
    text = text if isinstance(text, str) else str(text)
    return text if len(text) <= limit else text[:limit] + f"\n... ({len(text) - limit} more characters cut)"


class _Watch:
    """Polls the kernel's process tree while code runs: memory of the whole tree, and how many
    processes, against the job's limits (rlimits cap each process; this caps them together)."""

    def __init__(self, kernel):
        self.kernel = kernel
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def stop(self):
        self.done.set()

    def _loop(self):
        limits = self.kernel.limits
        while not self.done.wait(0.25):
            pid = self.kernel._pid() if self.kernel.km is not None else None
            if pid is None:
                return
            tree = _tree(pid)
            rss = sum(_rss(p) for p in tree)
            if rss > limits.memory_gb * 1.25 * GB:
                self.kernel.breach = (f"used more than {limits.memory_gb:g} GB of memory in {{where}} "
                                      f"({rss / GB:.1f} GB) and was stopped")
            elif len(tree) > limits.processes:
                self.kernel.breach = (f"started more than {limits.processes} processes in {{where}} and was stopped")
            if self.kernel.breach:
                _kill_tree(pid)
                return


def _children():
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as handle:
                    fields = handle.read().rsplit(b")", 1)[1].split()
                parents.setdefault(int(fields[1]), []).append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return parents


def _tree(pid):
    parents, found, todo = _children(), [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(parents.get(p, []))
    return found


def _rss(pid):
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        return 0


def _kill_tree(pid):
    if pid is None:
        return
    for p in reversed(_tree(pid)):
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass
