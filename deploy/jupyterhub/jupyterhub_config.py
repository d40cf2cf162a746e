"""JupyterHub for the malaria-lab course on one machine (see course/INSTRUCTORS.md, "On a JupyterHub").

Students and instructors are the machine's own Linux users: they log in with their Linux password
(PAM), and each gets a JupyterLab of their own, running as themselves in their home folder, so the
operating system keeps one student's files from another. Assignments move through nbgrader's
exchange, a shared folder (see nbgrader_config.py beside this file).

Run it as root (it starts each server as its user) from the folder that keeps the hub's state
(its database and cookie secret), with the environment it is installed in:

    cd /srv/jupyterhub && /opt/jupyterhub/bin/jupyterhub -f /opt/malaria-lab/deploy/jupyterhub/jupyterhub_config.py
"""

import os
import sys

c = get_config()  # noqa: F821 (JupyterHub provides get_config)

# Only the members of these two Linux groups may log in.
c.PAMAuthenticator.allowed_groups = {"malaria-lab-students", "malaria-lab-instructors"}

# The hub listens on this machine only: put your HTTPS front end (nginx, Apache, Caddy) before it,
# or set c.JupyterHub.ssl_key / ssl_cert and listen on a public address instead.
c.JupyterHub.bind_url = "http://127.0.0.1:8000"

# Each user's JupyterLab comes from the environment the hub runs in (this Python's bin/), which
# holds JupyterLab, nbgrader and the course package. nbgrader and the course's command line
# (nbgrader runs `alembic`, the instructor runs `malaria-lab course grade`) must be on the PATH of
# the servers and of their terminals.
BIN = os.path.dirname(sys.executable)
c.Spawner.cmd = [os.path.join(BIN, "jupyterhub-singleuser")]
c.Spawner.environment = {"PATH": os.pathsep.join([BIN, "/usr/local/bin", "/usr/bin", "/bin"])}
# Under a hub, JupyterLab's terminals start a login shell, and a login shell's /etc/profile (Debian,
# Ubuntu) sets PATH anew, without BIN: start bash as an interactive shell that keeps it.
c.Spawner.args = ["--ServerApp.terminado_settings=shell_command=/bin/bash"]
c.Spawner.notebook_dir = "~"
c.Spawner.default_url = "/lab"
# Where the exchange is, when not at nbgrader_config.py's default (a second course, a test).
c.Spawner.env_keep.append("NBGRADER_EXCHANGE_ROOT")
# A student's server starts TensorFlow's kernel: give it time on a busy machine.
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
