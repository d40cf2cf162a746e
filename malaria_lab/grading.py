"""Kept for notebooks handed out before the course's support moved to :mod:`malaria_lab.course`:
they start with ``from malaria_lab import grading`` and call ``grading.setup`` and the picture
helpers. New notebooks import :mod:`malaria_lab.course` and :mod:`malaria_lab.course.plots`."""

from .course.plots import bar_chart, image_grid, schedule_chart, show, split_chart
from .course.workspace import Course, setup

__all__ = ["Course", "setup", "show", "image_grid", "bar_chart", "schedule_chart", "split_chart"]
