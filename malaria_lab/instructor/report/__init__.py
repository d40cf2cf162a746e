"""The class report (``malaria-lab course report``): what the class got wrong, exercise by
exercise, and the grades ready for the LMS, from the grading records of ``course grade``.

* :mod:`.load`: the records (invalid ones skipped and named) and the gradebook's names;
* :mod:`.stats`: per stage, exercise (discrimination and flags), check, and wrong-answer groups;
* :mod:`.students`: one row per student, with feedback links;
* :mod:`.figures`, :mod:`.page`: the plots and ``index.html``;
* :mod:`.similarity`, :mod:`.similar_section`: answers alike each other or the published solution,
  for a person to review (measured on the independently written answers of :mod:`.variants`);
* :mod:`.tables`, :mod:`.lms`: the CSV files; :mod:`.anonymise`: pseudonyms;
* :mod:`.simulate`: a simulated class, from the real exercise declarations, for tests and benchmarks.
"""

from .build import Report, build_report

__all__ = ["Report", "build_report"]
