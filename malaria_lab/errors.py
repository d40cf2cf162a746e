"""One error type for everything a learner can get wrong, with what to do about it."""


class MalariaLabError(Exception):
    """A problem the user can fix: ``str(err)`` says what was wrong and what to do."""

    def __init__(self, problem, fix=None):
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem} {fix}" if fix else problem)
