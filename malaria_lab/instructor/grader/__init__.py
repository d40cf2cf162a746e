"""Class-scale grading with the verdict out of the students' reach.

Each (student, stage) is one job (:mod:`.job`): the student's notebook, repaired by
:mod:`.merge`, runs in a kernel inside an operating-system sandbox (:mod:`.sandbox`,
:mod:`.kernel`); at each check cell the exercise's checks run here, in the trusted process,
calling the student's functions across the wall (:mod:`.remote`, :mod:`.wire`) and getting plain
data back. :mod:`.writer` writes the gradebook, ``autograded/``, ``feedback/`` and the job's
record; :mod:`.classgrade` runs the jobs in parallel, here or on a Dask cluster.
"""
