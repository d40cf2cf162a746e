"""What to run for a submission: the student's notebook with every locked and graded cell put
back as the course has it, graded cells that were deleted restored, and copies of graded cells
graded once.

Cells are matched by their nbgrader ``grade_id``, the way nbgrader's own ``OverwriteCells``
does, but nothing a student writes can make the run fail: unknown or copied nbgrader metadata is
dropped (the cell stays, as the student's own), a cell whose metadata is malformed is the
student's, and each repair is said in a note.
"""

import copy

import nbformat

from ...checks.cell_ids import Role, exercise_of


def grade_id(cell) -> str | None:
    meta = cell.get("metadata", {}).get("nbgrader")
    if not isinstance(meta, dict) or not isinstance(meta.get("grade_id"), str):
        return None
    return meta["grade_id"]


def _is(cell, role):
    return bool(cell.get("metadata", {}).get("nbgrader", {}).get(role))


def _student_cell(cell):
    """The student's own cell: their source and type, no nbgrader role, no outputs."""
    kind = cell.get("cell_type") if cell.get("cell_type") in ("code", "markdown") else "markdown"
    source = cell.get("source", "")
    source = "".join(source) if isinstance(source, list) else str(source)
    made = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
    return made


def _label(template_cell):
    gid = grade_id(template_cell)
    if exercise_of(gid, Role.CHECK):
        return f"the check cell of {exercise_of(gid, Role.CHECK)}"
    if exercise_of(gid, Role.ANSWER):
        return f"the answer cell of {exercise_of(gid, Role.ANSWER)}"
    return f"cell {gid}" if gid else "a cell"


def merge(submission, template) -> tuple[list, list]:
    """(cells to run, notes): ``submission`` and ``template`` are nbformat notebooks (the
    template is the release notebook nbgrader made from the source)."""
    known = {grade_id(c): c for c in template.cells if grade_id(c)}
    order = [grade_id(c) for c in template.cells if grade_id(c)]
    cells, placed, notes = [], set(), []
    copies = {}
    for cell in submission.cells:
        gid = grade_id(cell)
        if gid in known and gid not in placed:
            original = known[gid]
            if _is(original, "solution") and not _is(original, "grade") and not _is(original, "locked"):
                mine = _student_cell(cell)
                if mine.cell_type != original.cell_type:
                    mine = copy.deepcopy(original)
                    notes.append(f"{_label(original)} changed type: the starter cell was put back.")
                mine.metadata = copy.deepcopy(original.metadata)
                mine["id"] = original.get("id", mine["id"])
                cells.append(mine)
            else:
                cells.append(copy.deepcopy(original))
            placed.add(gid)
        elif gid in known:
            copies[gid] = copies.get(gid, 0) + 1
            if not _is(known[gid], "solution"):
                continue  # a copy of a locked or graded cell: the course's one is there already
            cells.append(_student_cell(cell))
        else:
            cells.append(_student_cell(cell))
    for gid, n in sorted(copies.items()):
        notes.append(f"{_label(known[gid])} appeared {n + 1} times: graded once, as the course has it.")
    for i, gid in enumerate(order):
        if gid in placed:
            continue
        before = [g for g in order[:i] if g in placed]
        at = 0
        if before:
            at = next(k for k, c in enumerate(cells) if grade_id(c) == before[-1]) + 1
        cells.insert(at, copy.deepcopy(known[gid]))
        placed.add(gid)
        if _is(known[gid], "grade") or _is(known[gid], "solution"):
            notes.append(f"{_label(known[gid])} was deleted: restored from the source and graded.")
    ids = set()
    for cell in cells:
        if cell.get("id") in ids or not cell.get("id"):
            cell["id"] = nbformat.v4.new_code_cell().id
        ids.add(cell["id"])
    return cells, notes
