"""Start a sandboxed process under the job's limits: ``python -I -S launch.py LIMITS_JSON
COMMAND...`` joins the job's cgroups (the ``cgroups`` entry: files to write its pid to), sets
rlimits on itself, then becomes ``COMMAND`` (bwrap, or the process itself without a sandbox),
which inherits them. Started by root, it first becomes the job's own unprivileged user (the
``user`` entry), so nothing in the sandbox has root's rights on a file it can see; what bwrap binds in
but the user may not reach (a Python under /root) is made reachable first (:func:`_reachable`).

It runs outside the sandbox, so it is started isolated (``-I``: no environment variables, user
site or current folder; ``-S``: no site-packages, so no ``.pth`` file anywhere runs) and imports
the standard library only (a test checks it)."""

import ctypes
import json
import os
import resource
import stat
import sys

LIBC = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNS, MS_BIND, MS_REC, MS_PRIVATE, MS_NOSUID, MS_NODEV = 0x20000, 4096, 16384, 1 << 18, 2, 4


def _set(name, value):
    limit = getattr(resource, name, None)
    if limit is None:
        return
    value = int(value)
    _, hard = resource.getrlimit(limit)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    try:
        resource.setrlimit(limit, (value, value))
    except (ValueError, OSError):  # the system refuses this one: the watchdog still applies
        pass


def _tasks_of(uid):
    """How many processes and threads ``uid`` runs now (RLIMIT_NPROC counts them all)."""
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry}/task"))
            except OSError:
                continue
    return count


def _join(procs_files):
    for path in procs_files:
        fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW)
        try:
            os.write(fd, str(os.getpid()).encode())
        finally:
            os.close(fd)


def _sources(command):
    """The folders and files bwrap's ``--bind``/``--ro-bind`` take (before the command's ``--``)."""
    found, i = [], 0
    while i < len(command) and command[i] != "--":
        if command[i] in ("--bind", "--ro-bind"):
            found.append(command[i + 1])
            i += 3
        else:
            i += 1
    return found


def _blocked_at(path, user):
    """The outermost folder above ``path`` that ``user`` may not pass through, or None."""
    parts = os.path.abspath(path).split("/")[1:-1]
    here = ""
    for part in parts:
        here += "/" + part
        info = os.stat(here)
        if info.st_uid != user and not info.st_mode & stat.S_IXOTH:
            return here
    return None


def _libc_call(name, *args):
    if getattr(LIBC, name)(*args) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{name}: {os.strerror(err)}")


def _reachable(sources, user):
    """Make every source reachable by ``user`` where a folder above it (say /root, or the job's
    private folder) is closed: in a mount namespace of this process's own, a small tmpfs over
    that folder holds just the sources, bound back in. Nothing outside this process sees it."""
    blocked = {}
    for source in sources:
        at = _blocked_at(source, user)
        if at is not None:
            blocked.setdefault(at, []).append(source)
    if not blocked:
        return
    _libc_call("unshare", CLONE_NEWNS)
    _libc_call("mount", b"none", b"/", None, MS_REC | MS_PRIVATE, None)
    for at in sorted(blocked, key=len):
        kept = [(source, os.open(source, os.O_PATH)) for source in blocked[at]]
        _libc_call("mount", b"tmpfs", at.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, b"mode=0755,size=1m")
        for source, fd in kept:
            if os.path.isdir(f"/proc/self/fd/{fd}"):
                os.makedirs(source, mode=0o755, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(source), mode=0o755, exist_ok=True)
                os.close(os.open(source, os.O_CREAT | os.O_WRONLY, 0o644))
            _libc_call("mount", f"/proc/self/fd/{fd}".encode(), source.encode(), None, MS_BIND | MS_REC, None)
            os.close(fd)


def _become(user):
    os.chdir("/")
    os.setgroups([])
    os.setgid(user)
    os.setuid(user)
    if os.getuid() != user or os.geteuid() != user:
        raise SystemExit("launch: could not drop root's rights")


def main(argv):
    limits, command = json.loads(argv[0]), argv[1:]
    groups = limits.get("cgroups") or ()
    _join(groups)
    user = limits.get("user")
    if user is not None:
        _reachable(_sources(command), int(user))
        _become(int(user))
    gb = 1024**3
    _set("RLIMIT_DATA", limits["memory_gb"] * gb)
    _set("RLIMIT_FSIZE", limits["file_mb"] * 1024**2)
    _set("RLIMIT_NOFILE", limits["open_files"])
    _set("RLIMIT_CORE", 0)
    _set("RLIMIT_CPU", limits["notebook_seconds"] * 4)
    if not groups:  # a cgroup caps the job's tasks; without one, the user's processes are capped
        _set("RLIMIT_NPROC", _tasks_of(os.getuid()) + limits["processes"])
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
