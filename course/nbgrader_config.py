"""nbgrader configuration of the malaria-lab course. Run nbgrader commands from this folder.

See INSTRUCTORS.md for the whole workflow.
"""

from pathlib import Path

c = get_config()  # noqa: F821 (nbgrader provides get_config)

c.CourseDirectory.course_id = "malaria-lab"
c.CourseDirectory.root = str(Path(__file__).resolve().parent)


# Do not copy work folders, checkpoints or caches along with notebooks.
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints", "*.pyc", "__pycache__", "malaria_lab_work", "feedback", ".cache",
]

# The stub students see in place of each solution region.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Execution (validate and autograde). NBGRADER_EXECUTION puts the notebooks in grading mode, so a
# whole stage runs in well under a minute on two CPU cores; the limit is per cell and leaves room
# for a slow machine training the reference model the first time (it is cached afterwards).
c.Execute.timeout = 300
c.Execute.interrupt_on_timeout = True
c.Execute.execute_retries = 0

# Feedback: the autograded notebook holds the hidden tests again; strip them before it becomes
# the HTML a student gets. Check cells never raise (they print their verdict and return the
# points), so no traceback can show hidden source either.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
c.ClearHiddenTests.enforce_metadata = False
