"""Run a notebook in a fresh kernel with nbclient, and read what its check cells scored.

Used by ``malaria-lab reference``, the course's tests and the site's build.
"""

import time


def _this_python_kernel():
    """A kernel manager whose ``python3`` is this interpreter, whatever kernelspecs are installed
    (a stale ``python3`` in ~/.local/share/jupyter must not run the notebooks elsewhere)."""
    # jupyter_client and nbclient load only when a notebook runs (they start an event loop).
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class ThisPython(AsyncKernelManager):
        @default("kernel_spec_manager")
        def _only_native(self):
            return KernelSpecManager(parent=self, kernel_dirs=[])

    return ThisPython


def run_stage(path, work, env, timeout=None, kernel="python3", log_file=None):
    """Execute one notebook in a fresh kernel; returns (notebook, seconds, error or None).

    The kernel's own stderr (start-up warnings, C++ log lines) goes to ``log_file`` when given.
    """
    import nbformat  # see _this_python_kernel
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(str(path), as_version=4)
    extra = {"kernel_manager_class": _this_python_kernel()} if kernel == "python3" else {}
    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel, allow_errors=False,
                            resources={"metadata": {"path": str(work)}}, **extra)
    start = time.perf_counter()
    error = None
    try:
        if log_file is None:
            client.execute(env=env)
        else:
            with open(log_file, "w", encoding="utf-8") as stderr:
                client.execute(env=env, stderr=stderr)
    except CellExecutionError as err:
        error = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
    except Exception as err:  # a dead kernel or a timeout: report it like a failed cell
        error = f"{type(err).__name__}: {err}"
    return nb, time.perf_counter() - start, error



def outputs_text(cell):
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        elif "data" in out:
            parts.append(str(out["data"].get("text/plain", "")))
    return "".join(parts)


def points(nb):
    """(points scored, points possible) from the check cells' results, as nbgrader reads them."""
    got = total = 0.0
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("grade"):
            continue
        total += float(meta.get("points", 0))
        for out in cell.get("outputs", []):
            if out.get("output_type") == "execute_result":
                try:
                    got += float(out["data"]["text/plain"])
                except (KeyError, ValueError):
                    pass
    return got, total
