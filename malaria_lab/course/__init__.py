"""The course's support layer, between the exercises (``malaria_lab.checks``) and the front ends
(magics, widgets, the command line):

* :mod:`.workspace`: one learner's work folder and each stage's result, with fallbacks;
* :mod:`.fallbacks`: the synthetic data set, split and trained model a stage falls back on;
* :mod:`.plots`: the notebooks' pictures;
* :mod:`.doctor`: what ``%malaria_doctor`` checks;
* :mod:`.notebooks`: running a notebook in a fresh kernel (nbclient);
* :mod:`.solutions`: ``malaria-lab reference``, the six reference solutions run for real;
* :mod:`.authoring`, :mod:`.release`, :mod:`.submissions`, :mod:`.autograde`: the instructor's
  side, behind ``malaria-lab course``.

A notebook starts with ``from malaria_lab.course import setup`` then ``course = setup(STAGE)``.
"""

from .workspace import Course, setup

__all__ = ["Course", "setup"]
