"""nbgrader for everyone on the hub (see course/INSTRUCTORS.md, "On a JupyterHub"): the course id
and the exchange. Copy it into the environment's configuration folder, where every user's
JupyterLab and every nbgrader command of that environment read it:

    cp /opt/malaria-lab/deploy/jupyterhub/nbgrader_config.py /opt/jupyterhub/etc/jupyter/

The course's own settings (what to strip from the students' version, how to run the notebooks)
stay in the course folder's nbgrader_config.py, read when the instructor runs nbgrader there.
"""

import os

c = get_config()  # noqa: F821 (nbgrader provides get_config)

c.CourseDirectory.course_id = "malaria-lab"

# The exchange: one folder on the machine where the users' servers run, that every user can write
# and, with the sticky bit, no one can empty of another's files (install -d -m 1777 ...). Inside it
# nbgrader gives each course's folders their own permissions: students cannot list what others
# submitted, nor the feedback.
c.Exchange.root = os.environ.get("NBGRADER_EXCHANGE_ROOT", "/srv/nbgrader/exchange")
