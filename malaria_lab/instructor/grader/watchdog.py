"""The watchdog of a running kernel: polls memory (the job's cgroup where there is one, else the
kernel's process tree) and processes against the job's limits, and stops what breaks them."""

import os
import signal
import threading
import time

GB = 1024**3


class Watch:
    """Polls the job while code runs: memory (the job's cgroup where there is one, else the
    kernel's process tree) and how many processes, against the job's limits."""

    def __init__(self, kernel, label):
        self.kernel, self.label = kernel, label
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def stop(self):
        self.done.set()

    def _loop(self):
        kernel, limits = self.kernel, self.kernel.limits
        while not self.done.wait(0.25):
            pid = kernel._pid() if kernel.km is not None else None
            if pid is None:
                return
            used = kernel.group.memory_bytes() if kernel.group is not None else None
            used = used if used is not None else sum(_rss(p) for p in tree(pid))
            if used > limits.memory_gb * 1.25 * GB:
                kernel.breach = (f"used more than {limits.memory_gb:g} GB of memory in {{where}} "
                                 f"({used / GB:.1f} GB) and was stopped")
            elif len(kernel.members() - kernel.own) >= limits.processes or self._refused():
                # Where a cgroup caps the job, its extra processes go and the kernel goes on (the
                # cell sees its forks fail); without one, forks cannot be bounded, so the job stops.
                if kernel.group is not None and kernel.stop_extras():
                    kernel.notices.append(f"started more than {limits.processes} processes in {self.label}; "
                                          "they were stopped")
                else:
                    kernel.breach = f"started more than {limits.processes} processes in {{where}} and was stopped"
            if kernel.breach:
                kill_tree(pid)
                return

    def _refused(self):
        group = self.kernel.group
        if group is None:
            return False
        refused = group.refused_tasks()
        if refused > self.kernel.refused:
            self.kernel.refused = refused
            return True
        return False


def _children():
    """{parent pid: [child pids]} of the live processes (zombies are ended: nothing to kill)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as handle:
                    fields = handle.read().rsplit(b")", 1)[1].split()
                if fields[0] != b"Z":
                    parents.setdefault(int(fields[1]), []).append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return parents


def tree(pid):
    """``pid`` and its descendants, those alive: a process that has ended is not listed, so a
    killed tree is seen gone at once."""
    parents = _children()
    alive = {p for children in parents.values() for p in children}
    found, todo = [], [pid] if pid in alive else []
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


def signal_all(pids, signum):
    for pid in pids:
        try:
            os.kill(pid, signum)
        except OSError:
            pass


def kill_until_gone(listed, keep=frozenset(), seconds=5.0):
    """SIGKILL every process ``listed()`` names but ``keep``, again and again (a killed process's
    children may appear meanwhile); True once none is left."""
    deadline = time.monotonic() + seconds
    while True:
        left = listed() - keep
        if not left:
            return True
        if time.monotonic() > deadline:
            return False
        signal_all(left, signal.SIGKILL)
        time.sleep(0.02)


def kill_tree(pid):
    if pid is not None:
        kill_until_gone(lambda: set(tree(pid)), seconds=1.0)
