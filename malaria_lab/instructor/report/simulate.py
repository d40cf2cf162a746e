"""A simulated class: grading records made from the real exercise declarations, for the report's
tests and benchmark (no notebook runs).

Each exercise of each student's stage is answered with the reference solution, one of its
declared typical mistakes, or left untouched; its entry in the record is what the exercise's
checks really say about that answer (``Exercise.run(..., hidden=True).to_dict()``), computed once
per (stage, exercise, answer) however many students give it.
"""

import hashlib
import json
import random

from ...checks import load_stage
from ...checks.results import Status
from ...settings import STAGES
from .. import records

CORRECT, UNTOUCHED = Status.CORRECT.value, Status.NOT_ATTEMPTED.value
GRADED_AT = "2026-01-15T10:00:00+00:00"


def answer_code(exercise, choice) -> str:
    """The answer cell for ``choice``: "correct", "not attempted" or ("mistake", k)."""
    if choice == CORRECT:
        return exercise.solution_code
    if choice == UNTOUCHED:
        return exercise.starter_code
    return exercise.with_answer(exercise.mistakes[choice[1]][0])


class Simulator:
    """Makes records; remembers each answer's checked entry."""

    def __init__(self):
        self._entries = {}

    def entry(self, stage, ex_id, choice) -> dict:
        """The record's entry for one exercise answered with ``choice``."""
        key = (stage, ex_id, choice)
        if key not in self._entries:
            decl = load_stage(stage)
            ex = decl[ex_id]
            code = answer_code(ex, choice)
            namespace = {"__name__": "__main__"}
            exec(decl.prelude, namespace)  # what the notebook's imports cell and answer cell define
            exec(code, namespace)
            self._entries[key] = dict(ex.run(namespace=namespace, hidden=True).to_dict(), answer=code)
        return dict(self._entries[key])

    def record(self, student, stage, choices=None, problem=None) -> dict:
        """A graded record of ``choices`` ({exercise id: choice}; absent ones are correct), or, with
        ``problem``, a failed one (the submission could not be graded)."""
        decl = load_stage(stage)
        exercises = [] if problem else [self.entry(stage, ex.id, (choices or {}).get(ex.id, CORRECT))
                                        for ex in decl]
        fingerprint = hashlib.sha256(json.dumps([student, stage, exercises], sort_keys=True).encode()).hexdigest()
        return {"version": records.VERSION, "student": student, "stage": stage,
                "status": "failed" if problem else "graded", "problem": problem, "notes": [],
                "sandbox": True, "fingerprint": fingerprint, "submitted": "2026-01-14T18:00:00+00:00",
                "graded_at": GRADED_AT, "seconds": 10.0 + int(fingerprint[:4], 16) % 500 / 10,
                "score": round(sum(e["points"] for e in exercises), 6), "max_score": decl.points,
                "exercises": exercises, "feedback": f"feedback/{student}/{stage}/{stage}.html"}


def random_plan(n, stages=STAGES, seed=0, missing=0.08, untouched=0.04, failed=0.02) -> dict:
    """{(student, stage): {exercise: choice} | "missing" | "failed"} for ``n`` students whose
    chance of answering right grows with an ability of their own (so exercises discriminate)."""
    rng = random.Random(seed)
    plan = {}
    for i in range(n):
        student, ability = f"student{i:04d}", rng.random()
        for stage in stages:
            draw = rng.random()
            if draw < missing:
                plan[(student, stage)] = "missing"
            elif draw < missing + failed:
                plan[(student, stage)] = "failed"
            elif draw < missing + failed + untouched:
                plan[(student, stage)] = {ex.id: UNTOUCHED for ex in load_stage(stage)}
            else:
                plan[(student, stage)] = {ex.id: _choice(rng, ability, ex) for ex in load_stage(stage)}
    return plan


def _choice(rng, ability, exercise):
    draw = rng.random()
    if draw < 0.3 + 0.65 * ability:
        return CORRECT
    if draw < 0.93:
        return ("mistake", rng.randrange(len(exercise.mistakes)))
    return UNTOUCHED


def write_class(course_dir, plan, simulator=None) -> int:
    """Write the plan's records where ``course grade`` puts them; returns how many."""
    simulator = simulator or Simulator()
    count = 0
    for (student, stage), choices in sorted(plan.items()):
        if choices == "missing":
            continue
        problem = "timed out in cell q1_answer after 120 s" if choices == "failed" else None
        records.write(course_dir, simulator.record(student, stage, None if problem else choices, problem))
        count += 1
    return count
