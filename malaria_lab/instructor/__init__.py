"""The instructor's tools, behind ``malaria-lab course`` and ``malaria-lab reference``; a learner's
notebook never imports them (an import-linter contract in ``pyproject.toml`` keeps it so).

* :mod:`.authoring`, :mod:`.release`: the stages' text -> nbgrader's source -> the student release;
* :mod:`.submissions`: test submissions for dry runs;
* :mod:`.grader`: sandboxed class grading, writing :mod:`.records`;
* :mod:`.report`: the class report, from those records;
* :mod:`.reference`: ``malaria-lab reference``, the six reference notebooks run for real
  (:mod:`.notebooks` runs one with nbclient);
* :mod:`.nbgrader_cmd`: nbgrader's own commands.
"""
