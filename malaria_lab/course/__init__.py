"""The course as a learner runs it: what the stage notebooks import, and nothing of the
instructor's (that is :mod:`malaria_lab.instructor`).

* :mod:`.workspace`: one learner's work folder and each stage's result, with fallbacks;
* :mod:`.fallbacks`: the synthetic data set, split and trained model a stage falls back on;
* :mod:`.plots`: the notebooks' pictures;
* :mod:`.doctor`: what ``%malaria_doctor`` checks;
* :mod:`.narrate`: what a training run did, in words;
* :mod:`.unsolved`: a friendly stop at an exercise still holding its starter code.

A notebook starts with ``from malaria_lab.course import setup`` then ``course = setup(STAGE)``;
notebooks handed out before the split import the same names, so they keep running.
"""

from .workspace import Course, setup

__all__ = ["Course", "setup"]
