"""One student's kernel, seen from the trusted side: started in the sandbox, fed one cell at a
time, asked to call a function (:meth:`Kernel.request`), watched, and stopped.

Nothing of the grader's lives where the kernel can write. Each start gets two new folders in the
job's private folder (which the sandbox cannot see): one for the connection file, bound
read-only, and one for the kernel's sockets, bound read-write; the grader connects only after it
has checked that every socket is the kernel's own (no student code has run yet) and never
reconnects, so a socket the student later replaces leads nowhere. The kernel's output streams go
to a pipe the grader reads. Requests travel inside the code the kernel runs, and answers come
back as the kernel's own messages; ZeroMQ refuses any message over :data:`MAX_MESSAGE`.
Outputs are cut to size, metadata included, per cell and per job.
"""

import itertools
import json
import os
import signal
import stat
import sys
import time
from pathlib import Path
from queue import Empty

import nbformat

from ...checks.results import Stopped
from ..notebook_stage import json_values
from ..whole_text import whole
from . import sandbox
from .checker import Drain
from .remote import ANSWER_MIME
from .watchdog import Watch, kill_tree, kill_until_gone, signal_all, tree

MAX_MESSAGE = 96 * 1024**2
MAX_ANSWER = 80 * 1024**2
MAX_OUTPUTS = 200
MAX_TEXT = 100_000
MAX_OUTPUT = 8 * 1024**2
MAX_METADATA = 16 * 1024
RECEIVE_QUEUE = 4
MAX_NODES = 1_000_000  # JSON values in one message part (an answer has far fewer)
LAUNCH = str(Path(__file__).with_name("launch.py"))


class KernelStopped(Exception):
    """The kernel ran past a limit or died; ``reason`` says which, in words. ``alive``: the
    kernel was interrupted in time and can go on."""

    def __init__(self, reason, alive=False):
        super().__init__(reason)
        self.reason = reason
        self.alive = alive


def launcher(limits, group, user=None):
    """The isolated launcher's command line: limits, the job's cgroups and the user to become
    in, nothing of the environment (``-I``) or of site-packages (``-S``) read."""
    settings = dict(limits.to_dict(), cgroups=group.procs if group is not None else [], user=user)
    return [sys.executable, "-I", "-S", LAUNCH, json.dumps(settings)]


class Kernel:
    """A kernel for one job; ``private`` is the job's folder that only the grader sees."""

    def __init__(self, private, limits, env, read_only=(), sandboxed=True, group=None, binds=()):
        self.private = Path(private)
        self.limits = limits
        self.env = env
        self.read_only = read_only
        self.sandboxed = sandboxed
        self.group = group
        self.binds = list(binds)
        self.user = sandbox.user() if sandboxed else None
        self.km = self.kc = None
        self.starts = itertools.count(1)
        self.breach = None
        self.drain = None
        self.output_bytes = 0
        self.own = set()  # the processes the kernel runs in (sandbox and kernel), never "extra"
        self.refused = 0
        self.notices = []  # what the watchdog did that the job should report (plain text)
        self.reap_due = False  # extras were killed: their zombies hold the job's process budget

    # --- life ---------------------------------------------------------------------------------

    def _argv(self, sockets, connection):
        kernel = [sys.executable, "-m", "ipykernel_launcher", "-f", str(connection / "kernel.json")]
        if self.sandboxed:
            binds = [sandbox.Bind(str(connection), str(connection)),
                     sandbox.Bind(str(sockets), str(sockets), writable=True), *self.binds]
            kernel = sandbox.argv(kernel, self.read_only, self.env, binds=binds,
                                  job_folders=("home", "cache", "work"), disk_mb=self.limits.disk_mb,
                                  group=self.group)
        return launcher(self.limits, self.group, self.user) + kernel

    def start(self):
        # jupyter_client and zmq load only when a kernel starts (they are not needed to read results).
        import zmq
        from jupyter_client import KernelManager
        from jupyter_client.kernelspec import KernelSpec

        n = next(self.starts)
        sockets, connection = self.private / f"sockets-{n}", self.private / f"connection-{n}"
        sockets.mkdir(mode=0o700)
        connection.mkdir(mode=0o700)
        owner = self.user
        for folder in (sockets, connection):
            sandbox.hand_over(folder, owner)
        argv = self._argv(sockets, connection)

        class SandboxKernelManager(KernelManager):
            deferred = True

            @property
            def kernel_spec(self):
                return KernelSpec(argv=argv, display_name="malaria-lab sandbox", language="python",
                                  interrupt_mode="message", env={})

            def write_connection_file(self, **kwargs):
                super().write_connection_file(**kwargs)
                sandbox.hand_over(self.connection_file, owner)

            def _connect_control_socket(self):
                if not self.deferred:  # only once the kernel's sockets are checked (see start)
                    super()._connect_control_socket()

        self.context = zmq.Context()
        self.context.setsockopt(zmq.RECONNECT_IVL, -1)
        self.context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE)
        # A kernel that floods its output waits on its own side (its memory, its limits): the
        # grader holds a few messages at a time.
        self.context.setsockopt(zmq.RCVHWM, RECEIVE_QUEUE)
        self.km = SandboxKernelManager(transport="ipc", ip=str(sockets / "kernel"),
                                       connection_file=str(connection / "kernel.json"), context=self.context)
        self.km.session.unpack = bounded_unpack  # the client shares this session
        # Sandboxed, bwrap sets the kernel's environment itself (--clearenv, --setenv).
        env = self.env if not self.sandboxed else {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        read_end, write_end = os.pipe()
        try:
            self.km.start_kernel(env=env, cwd=str(self.private) if self.sandboxed else self.env["HOME"],
                                 stdout=write_end, stderr=write_end)
        finally:
            os.close(write_end)
        self.drain = Drain(read_end)
        self._await_sockets(sockets)
        sandbox.take_back(sockets, owner)
        self.km.deferred = False
        self.kc = self.km.client(context=self.context)
        self.kc.start_channels()
        try:
            self.kc.wait_for_ready(timeout=60)
        except RuntimeError as err:
            raise KernelStopped(f"the kernel did not start ({err})") from None
        self.breach = None
        self.own = self.members()
        self.refused = self.group.refused_tasks() if self.group is not None else 0

    def _await_sockets(self, sockets, timeout=60):
        """Wait until the kernel has made each of its sockets, and check that each is a socket."""
        names = [f"kernel-{port}" for port in self.km.ports]
        deadline = time.monotonic() + timeout
        while True:
            found = {}
            for name in names:
                try:
                    found[name] = os.lstat(sockets / name).st_mode
                except FileNotFoundError:
                    pass
            if len(found) == len(names):
                if not all(stat.S_ISSOCK(m) for m in found.values()):
                    raise KernelStopped("the kernel's sockets are not sockets")
                return
            if time.monotonic() > deadline or not self.km.is_alive():
                raise KernelStopped(f"the kernel did not start ({self.log_tail()})")
            time.sleep(0.05)

    def log_tail(self, limit=300):
        """The end of what the kernel process printed (for the grader's own log)."""
        text = self.drain.tail.decode("utf-8", "replace") if self.drain else ""
        return " ".join(text.split())[-limit:] or "it printed nothing"

    def shutdown(self):
        if self.kc is not None:
            self.kc.stop_channels()
        if self.km is not None:
            # Not km.shutdown_kernel: it first sends an interrupt message, and a send to a kernel
            # that ended itself can block for good. The tree is stopped here; then its files go.
            if self.group is not None:
                self.group.kill()
            kill_tree(self._pid())
            process = getattr(self.km.provisioner, "process", None)
            try:
                if process is not None:
                    process.wait(timeout=5)
                self.km.cleanup_resources()
            except Exception:  # already gone, or its files with it
                pass
            self.context.destroy(linger=0)
        self.km = self.kc = None

    def members(self):
        """The job's processes: its cgroup's where it has one (orphans included), else the
        kernel's process tree."""
        if self.group is not None:
            return self.group.pids()
        pid = self._pid()
        return set(tree(pid)) if pid is not None else set()

    def stop_extras(self):
        """Kill every process the student's code started, keeping the kernel; True once none is left.
        The kernel is held (SIGSTOP) meanwhile, so a fork loop cannot outrun the killing."""
        own = self.own & self.members()
        signal_all(own, signal.SIGSTOP)
        try:
            gone = kill_until_gone(self.members, keep=self.own)
            self.reap_due = self.reap_due or gone
            return gone
        finally:
            signal_all(own, signal.SIGCONT)

    def _pid(self):
        """The launcher's pid, None once it has been reaped: its number may be another process's then."""
        provisioner = getattr(self.km, "provisioner", None)
        process = getattr(provisioner, "process", None)
        if process is None or getattr(process, "returncode", None) is not None:
            return None
        return getattr(process, "pid", None)

    # --- running code -------------------------------------------------------------------------

    def run(self, code, timeout, label, answer=False, reap=True):
        """Run ``code``; returns (outputs as nbformat dicts, error name or None), or with
        ``answer`` the last answer :func:`.remote.serve` published (text, or None). Raises
        :class:`KernelStopped` past the time limit (after trying to interrupt), or when the kernel
        dies or breaks a memory or process limit."""
        msg_id = self.kc.execute(code, store_history=not answer, allow_stdin=False)
        outputs, error, answered = [], None, None
        deadline = time.monotonic() + timeout
        watch = Watch(self, label)
        interrupted = False
        try:
            while True:
                if self.breach:
                    self.shutdown()
                    raise KernelStopped(self.breach.format(where=label))
                if not self.km.is_alive():
                    why = ("used more than its memory" if self.group is not None and self.group.out_of_memory()
                           else "out of memory, or the code ended the process")
                    self.shutdown()
                    raise KernelStopped(f"the kernel died in {label} ({why})")
                if time.monotonic() > deadline:
                    if interrupted:
                        self.shutdown()
                        raise KernelStopped(f"timed out in {label} after {timeout:g} s (and ignored the interrupt)")
                    self.km.interrupt_kernel()
                    interrupted, deadline = True, time.monotonic() + sandbox.INTERRUPT_GRACE
                try:
                    msg = self.kc.get_iopub_msg(timeout=0.2)
                except Empty:
                    continue
                except Exception as err:  # a forged, replayed or broken message: the kernel's doing
                    self.shutdown()
                    raise KernelStopped(f"the kernel sent a message that is not valid in {label} "
                                        f"({type(err).__name__}: {str(err)[:80]})") from None
                if not isinstance(msg, dict) or not isinstance(msg.get("parent_header"), dict):
                    continue
                if sum(len(b) for b in msg.get("buffers") or ()) > MAX_MESSAGE:
                    # Each part is capped by ZeroMQ, not their number: many parts are one breach.
                    self.breach = (f"sent a message of more than {MAX_MESSAGE // 1024**2} MB in {{where}} "
                                   "and was stopped")
                    continue
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                kind, content = msg.get("msg_type"), msg.get("content")
                if not isinstance(content, dict):
                    continue
                if kind == "status" and content.get("execution_state") == "idle":
                    break
                if kind == "display_data" and isinstance(content.get("data"), dict) and ANSWER_MIME in content["data"]:
                    answered = content["data"][ANSWER_MIME]
                elif kind == "clear_output":
                    outputs.clear()
                elif kind in ("stream", "display_data", "execute_result", "error"):
                    if kind == "error":
                        error = content.get("ename", "Error")
                    if not answer:
                        self._keep(outputs, kind, content)
        finally:
            watch.stop()
        if interrupted:
            raise KernelStopped(f"timed out in {label} after {timeout:g} s", alive=True)
        if reap and self.reap_due:
            self._reap(label)
        return (answered if isinstance(answered, str) else None) if answer else (outputs, error)

    def _keep(self, outputs, kind, content):
        """Add one output, cut to size; past the job's budget, one note instead."""
        if len(outputs) >= MAX_OUTPUTS:
            return
        budget = self.limits.output_mb * 1024**2 - self.output_bytes
        try:
            output = _plain_output(kind, content)
            size = len(json.dumps(output, allow_nan=False))
        except (ValueError, TypeError, RecursionError):  # not plain JSON: not kept
            output, size = None, MAX_OUTPUT + 1
        if size > min(MAX_OUTPUT, budget):
            note = (f"[an output of {size / 1024**2:.1f} MB was not kept: over the grader's limit of "
                    f"{min(MAX_OUTPUT, max(budget, 0)) / 1024**2:.1f} MB]\n")
            if outputs and outputs[-1].get("text") == note:
                return
            output, size = _plain_output("stream", {"name": "stderr", "text": note}), len(note) + 64
        self.output_bytes += size
        last = outputs[-1] if outputs else None
        if (output["output_type"] == "stream" and last is not None and last.get("output_type") == "stream"
                and last.get("name") == output["name"] and len(last["text"]) + len(output["text"]) <= MAX_TEXT):
            last["text"] += output["text"]  # as nbclient does: one stream output per name in a row
            return
        outputs.append(nbformat.from_dict(output))

    def _reap(self, label):
        """Have the kernel collect its killed children: each one's zombie counts against the job's
        process cap until its parent waits for it, which the student's code may never do."""
        self.reap_due = False
        self.run(REAP_CODE, REAP_SECONDS, f"collecting the processes stopped in {label}", answer=True, reap=False)

    def request(self, body, timeout, label="a check"):
        """Have the kernel's :func:`.remote.serve` answer ``body`` (a JSON request, bytes); returns
        the answer (bytes, unread here), or raises :class:`~malaria_lab.checks.results.Stopped`."""
        literal = repr(body.decode("utf-8", "replace"))
        code = f"__import__('malaria_lab.instructor.grader.remote', fromlist=['serve']).serve({literal})"
        try:
            answer = self.run(code, timeout, label, answer=True)
        except KernelStopped as err:
            raise Stopped(f"Calling your code stopped: {err.reason}.") from None
        if answer is None:
            raise Stopped("The notebook's kernel did not answer (did the notebook replace Python's "
                          "built-in functions?).")
        data = answer.encode("utf-8", "replace")
        if len(data) > MAX_ANSWER:
            raise Stopped("Your function's answer is too large to check.")
        return data


REAP_CODE = "__import__('malaria_lab.instructor.grader.remote', fromlist=['reap']).reap()"
REAP_SECONDS = 10


def bounded_unpack(data):
    """A message part as JSON data, as jupyter_client reads it, but refused (ValueError) before
    parsing when it may hold more than :data:`MAX_NODES` values (see
    :func:`~malaria_lab.instructor.notebook_stage.json_values`): a few bytes each, they cost the
    reader far more memory than they take to send."""
    if not isinstance(data, (bytes, str)):
        data = bytes(data)
    if json_values(data) > MAX_NODES:
        raise ValueError(f"a message of more than {MAX_NODES:,} JSON values")
    return json.loads(data.decode("utf-8", "replace") if isinstance(data, bytes) else data)


def _plain_output(kind, content):
    """An nbformat output from a kernel message: known fields only, texts cut and encodable,
    metadata bounded."""
    content = whole(content)
    if kind == "stream":
        return {"output_type": "stream", "name": "stderr" if content.get("name") == "stderr" else "stdout",
                "text": _cut(content.get("text", ""))}
    if kind == "error":
        traceback = content.get("traceback")
        return {"output_type": "error", "ename": _cut(content.get("ename", ""), 200),
                "evalue": _cut(content.get("evalue", ""), 2000),
                "traceback": [_cut(t, 5000) for t in (traceback if isinstance(traceback, list) else [])[:60]]}
    raw = content.get("data")
    data = {k: (_cut(v) if isinstance(v, str) and not k.startswith("image/") else v)
            for k, v in (raw if isinstance(raw, dict) else {}).items()
            if isinstance(k, str) and len(k) < 200 and k != ANSWER_MIME}
    metadata = content.get("metadata")
    try:
        if not isinstance(metadata, dict) or len(json.dumps(metadata, allow_nan=False)) > MAX_METADATA:
            metadata = {}
    except (ValueError, TypeError, RecursionError):
        metadata = {}
    out = {"output_type": kind, "data": data, "metadata": metadata}
    if kind == "execute_result":
        count = content.get("execution_count")
        out["execution_count"] = count if type(count) is int else None
    return out


def _cut(text, limit=MAX_TEXT):
    text = text if isinstance(text, str) else str(text)[:limit]
    return text if len(text) <= limit else text[:limit] + f"\n... ({len(text) - limit} more characters cut)"
