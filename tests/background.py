"""A command started in the background with its output kept in a file: course runs that each leave
a core idle much of the time are started together, then waited for one by one."""

import subprocess


class Started:
    """``argv`` running, its stdout and stderr in the file ``output``; ``popen``: Popen's other arguments."""

    def __init__(self, argv, output, **popen):
        self.output = output
        self._log = open(output, "w")
        self.process = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, **popen)

    def finish(self, timeout):
        """Wait for it (stopped past ``timeout`` seconds, which raises): its exit status and output."""
        try:
            self.process.wait(timeout=timeout)
        finally:
            self.stop()
        return self.process.returncode, self.output.read_text(errors="replace")

    def stop(self):
        """Kill it if it still runs (at a fixture's end); idempotent."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._log.close()
