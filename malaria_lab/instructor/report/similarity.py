"""Answers to look at: students' answers to an exercise that are alike, for a person to review.

Per exercise, every attempted answer cell of the grading records is compared with the others and
with the course's published solution. First what every student was given is taken out (the lines
of the exercise cell outside its solution region: the ``def`` line, the docstring, the stub); then
the code is compared as MOSS does, with `copydetect <https://github.com/blingenf/copydetect>`_:
comments, blank lines and layout are dropped, every name is written ``V`` and every string ``S``,
and winnowed fingerprints (hashes of K-character runs of that text) are compared, so renamed
variables, new comments and reordered statements still match. Two steps are done here, in
copydetect's formats: the normalising, with the standard library's tokenizer (copydetect's Pygments
takes three times as long, which a class of a thousand notices), and the hashing, with a Rabin-Karp
rolling hash as in the winnowing paper (copydetect's uses Python's ``hash``, which changes from one
process to the next: the same records must give the same report). Answers with the same normalised
text are one *form*; pairs of forms are found through the fingerprints they share, and measured
with copydetect's token overlap (the share of each side's tokens that the other has).

How telling a match is depends on the exercise: where honest answers are short, everyone writes
the same line. So each exercise is also measured on independently written correct answers (the
published solution and the variants in :mod:`.variants`): the share of those pairs that would be
flagged. An exercise where that share is high, or whose solution is too short to fingerprint, is
marked *not telling*. None of this is a verdict.
"""

import builtins
import io
import itertools
import keyword
import tokenize
from collections import defaultdict
from dataclasses import dataclass, field
from enum import Enum

import numpy as np
from copydetect import compare_files
from copydetect.utils import filter_code, get_token_coverage, winnow

from ...checks import load_stage
from ...checks.results import Status
from . import variants

K = 15  # characters of normalised code per fingerprint (MOSS's noise threshold)
WINDOW = 4  # winnowing window: any run of K + WINDOW - 1 characters shared is found
THRESHOLD = 0.6  # the share of one side's tokens found in the other at which a pair is listed
NOT_TELLING = 0.25  # the share of honest pairs flagged from which an exercise is not telling
MIN_FINGERPRINTS = 10  # a published solution with fewer is too short to tell copying from writing it
# A fingerprint in more than max(50, 25% of the forms) is common (MOSS's -m): not used to find pairs, which
# bounds the pairing's work; forms like the published solution are compared with it directly.
COMMON = (50, 0.25)
STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
PUBLISHED = "published solution"
BASE, MASK = 1_000_003, (1 << 52) - 1  # the rolling hash's base; hashes fit a float64 (copydetect's winnow)


class Kind(str, Enum):
    """What a finding is."""

    IDENTICAL = "identical"  # two or more students, the same answer once normalised
    SIMILAR = "similar"  # two forms above the threshold
    PUBLISHED = "published solution"  # a form identical or similar to the published solution


@dataclass
class Form:
    """Answers with one normalised text: who gave them, and each one's own text."""

    fingerprint: object  # Fingerprint of the first answer
    answers: list = field(default_factory=list)  # [(student, text)]

    @property
    def students(self) -> list:
        return [s for s, _ in self.answers]


@dataclass
class Finding:
    """A pair (or group) of answers to look at, with what matched."""

    kind: Kind
    students: list  # one side
    others: list  # the other side: students, or [PUBLISHED]; empty for an identical group
    similarity: tuple  # (share of one side's tokens in the other, the other way round)
    identical: bool
    left: tuple  # (who, text) shown on the left
    right: tuple  # (who, text) shown on the right
    _fingerprints: tuple = ()

    @property
    def score(self) -> float:
        return max(self.similarity)

    def marks(self) -> list:
        """([(start, end)] of the left text, same of the right): the parts that matched."""
        left, right = self._fingerprints
        _, _, (a, b) = compare_files(left, right)
        return [(int(s), int(e)) for s, e in zip(*a)] if len(a) else [], \
               [(int(s), int(e)) for s, e in zip(*b)] if len(b) else []


@dataclass
class ExerciseSimilarity:
    stage: str
    id: str
    title: str
    answers: int  # attempted answers compared
    honest_pairs: int  # pairs of independently written correct answers
    honest_flagged: int  # of those, pairs that would be listed
    too_short: bool  # the published solution has too few fingerprints
    findings: list

    @property
    def honest_share(self) -> float | None:
        return self.honest_flagged / self.honest_pairs if self.honest_pairs else None

    @property
    def telling(self) -> bool:
        share = self.honest_share
        return not self.too_short and share is not None and share < NOT_TELLING

    @property
    def why_not_telling(self) -> str:
        if self.too_short:
            return "its solution is too short to tell copying from writing it"
        if self.honest_share is None:
            return "no independently written answers to measure it on"
        if not self.telling:
            return (f"{self.honest_flagged} of {self.honest_pairs} pairs of independently written correct "
                    "answers would be listed too")
        return ""


@dataclass
class Fingerprint:
    """What copydetect's ``compare_files`` reads of its ``CodeFingerprint``, made with a stable hash."""

    raw_code: str
    filtered_code: str  # the normalised text
    offsets: object  # where filtering removed characters (to map matches back to the raw code)
    hashes: set
    hash_idx: dict  # {hash: [positions in filtered_code]}
    token_coverage: int
    k: int = K


def _kgram_hashes(text):
    """A Rabin-Karp hash of every K-character run of ``text`` (arithmetic modulo 2**64)."""
    if len(text) < K:
        return np.zeros(0, dtype=np.int64)
    codes = np.array([ord(c) for c in text], dtype=np.uint64)
    runs = np.lib.stride_tricks.sliding_window_view(codes, K)
    return ((runs * _POWERS).sum(axis=1) & np.uint64(MASK)).astype(np.int64)


_POWERS = np.array([pow(BASE, K - 1 - j, 1 << 64) for j in range(K)], dtype=np.uint64)


_LITERAL = frozenset(dir(builtins)) | frozenset(keyword.kwlist) | {"self"}
_DROPPED = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
# Python 3.12 tokenizes an f-string into parts (3.10 and 3.11: one STRING): it is one "S" either way.
_FSTRING = (getattr(tokenize, "FSTRING_START", None), getattr(tokenize, "FSTRING_END", None))


def normalise(text) -> tuple:
    """(normalised text, offsets) as copydetect's ``filter_code`` makes them (names ``V``, functions
    ``F``, classes ``O``, strings ``S``; comments and layout dropped), with the standard library's
    tokenizer, five times faster than Pygments; code it cannot tokenize goes to ``filter_code``.
    ``offsets`` maps each normalised character to its place in ``text`` (``[i, place - i]``)."""
    starts = [0]
    for line in text.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    out, places, previous, fstrings = [], [], "", 0
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type in _FSTRING:
                fstrings += 1 if tok.type == _FSTRING[0] else -1
                if tok.type == _FSTRING[1] or fstrings > 1:
                    continue
            if tok.type in _DROPPED or fstrings and tok.type not in _FSTRING:
                continue
            if tok.type == tokenize.NAME and tok.string not in _LITERAL:
                piece = {"def": "F", "class": "O"}.get(previous, "V")
            else:
                piece = "S" if tok.type in (tokenize.STRING, _FSTRING[0]) else tok.string
            previous = tok.string
            at = starts[tok.start[0] - 1] + tok.start[1]
            out.append(piece)
            places += range(at, at + len(piece)) if piece == tok.string else [at] * len(piece)
    except (tokenize.TokenError, SyntaxError):  # IndentationError is a SyntaxError
        return filter_code(text, "answer.py", "python")
    places = np.array(places + [len(text)], dtype=np.int64)  # and the end of the normalised text: the end
    index = np.arange(len(places))
    return "".join(out), np.stack([index, places - index], axis=1)


def fingerprint(text) -> Fingerprint:
    """The winnowed fingerprint of some Python code (see :func:`normalise`)."""
    filtered, offsets = normalise(text)
    selected, positions = winnow(_kgram_hashes(filtered), WINDOW, remove_duplicates=False)
    hash_idx = defaultdict(list)
    for h, at in zip(selected.tolist(), positions.tolist()):
        hash_idx[h].append(at)
    return Fingerprint(text, filtered, offsets, set(hash_idx), dict(hash_idx),
                       int(get_token_coverage(hash_idx, K, len(filtered))))


def given_lines(exercise) -> set:
    """The lines every student was given (outside the solution region), stripped, and the stub."""
    code = exercise.code
    start, end = code.find("### BEGIN SOLUTION"), code.find("### END SOLUTION")
    outside = code[:start] + code[end + len("### END SOLUTION"):] if start >= 0 <= end else ""
    return {line.strip() for line in outside.splitlines() if line.strip()} | set(STUB)


def students_part(given, answer) -> str:
    """An answer cell without the lines every student was given."""
    return "\n".join(line for line in answer.splitlines() if line.strip() and line.strip() not in given)


def similarity(a, b) -> tuple[float, float]:
    """(share of a's tokens found in b, share of b's in a) of two fingerprints."""
    if a.filtered_code and a.filtered_code == b.filtered_code:
        return 1.0, 1.0
    _, (x, y), _ = compare_files(a, b)
    return float(x), float(y)


def honest_measure(answers) -> tuple[int, int]:
    """(pairs, pairs that would be listed) among independently written correct answers."""
    prints = [fingerprint(text) for text in answers]
    pairs = list(itertools.combinations(prints, 2))
    return len(pairs), sum(max(similarity(a, b)) >= THRESHOLD for a, b in pairs)


class Fingerprints:
    """Fingerprints made once per distinct text (many students give the same answer)."""

    def __init__(self):
        self._made = {}

    def __call__(self, text):
        if text not in self._made:
            self._made[text] = fingerprint(text)
        return self._made[text]


def forms_of(answers, prints) -> list:
    """[Form] of ``answers`` ([(student, text)]), one per normalised text, largest first."""
    forms = {}
    for student, text in answers:
        fp = prints(text)
        form = forms.setdefault(fp.filtered_code, Form(fp))
        form.answers.append((student, text))
    return sorted(forms.values(), key=lambda f: (-len(f.answers), f.students[0]))


def candidate_pairs(forms) -> list:
    """Pairs of forms (indices) that share enough fingerprints to be worth measuring."""
    postings = defaultdict(list)
    for i, form in enumerate(forms):
        for h in form.fingerprint.hashes:
            postings[h].append(i)
    common = max(COMMON[0], COMMON[1] * len(forms))
    shared = defaultdict(int)
    for members in postings.values():
        if 1 < len(members) <= common:
            for pair in itertools.combinations(members, 2):
                shared[pair] += 1
    return [(i, j) for (i, j), n in shared.items()
            if n >= max(2, 0.3 * min(len(forms[i].fingerprint.hashes), len(forms[j].fingerprint.hashes)))]


def _findings(forms, solution):
    findings, published = [], set()
    for i, form in enumerate(forms):
        sim = similarity(form.fingerprint, solution[1])
        if max(sim) >= THRESHOLD:
            published.add(i)
            findings.append(Finding(Kind.PUBLISHED, form.students, [PUBLISHED], sim,
                                    form.fingerprint.filtered_code == solution[1].filtered_code,
                                    form.answers[0], (PUBLISHED, solution[0]),
                                    (form.fingerprint, solution[1])))
        elif len(form.answers) > 1:
            findings.append(Finding(Kind.IDENTICAL, form.students, [], (1.0, 1.0), True,
                                    form.answers[0], form.answers[1], (form.fingerprint, form.fingerprint)))
    for i, j in candidate_pairs(forms):
        if i in published and j in published:
            continue  # both are the published solution's: already listed
        a, b = forms[i], forms[j]
        sim = similarity(a.fingerprint, b.fingerprint)
        if max(sim) >= THRESHOLD:
            findings.append(Finding(Kind.SIMILAR, a.students, b.students, sim, False, a.answers[0], b.answers[0],
                                    (a.fingerprint, b.fingerprint)))
    return sorted(findings, key=lambda f: (-f.score, -len(f.students) - len(f.others), f.students[0]))


def exercise_similarity(stage, exercise, answers, prints, honest=None) -> ExerciseSimilarity:
    """:class:`ExerciseSimilarity` of one exercise's ``answers`` ([(student, answer cell)])."""
    given = given_lines(exercise)
    solution_text = students_part(given, exercise.solution_code)
    solution = (solution_text, prints(solution_text))
    parts = [(s, students_part(given, a)) for s, a in answers]
    parts = [(s, p) for s, p in parts if p.strip()]
    if honest is None:
        honest = honest_measure([solution_text] + [students_part(given, exercise.with_answer(v))
                                                   for v in variants.of(stage, exercise.id)])
    too_short = len(solution[1].hashes) < MIN_FINGERPRINTS
    return ExerciseSimilarity(stage, exercise.id, exercise.title, len(parts), *honest, too_short,
                              _findings(forms_of(parts, prints), solution))


def attempted_answers(records, ex_id, text=str) -> list:
    """[(student, answer cell)] of one exercise in ``records`` (graded, attempted, with an answer)."""
    out = []
    for record in records:
        for entry in record["exercises"]:
            if entry["id"] == ex_id and entry["status"] != Status.NOT_ATTEMPTED and entry["answer"]:
                out.append((record["student"], text(entry["answer"])))
    return out


def class_similarity(stats, text=str) -> list:
    """{stage: [ExerciseSimilarity]} of every stage with graded submissions; ``text`` rewrites each
    answer before comparing (pseudonyms, when the report is anonymised)."""
    prints, cache, out = Fingerprints(), {}, {}
    for stage, st in stats.items():
        if not st.graded:
            continue
        decl = load_stage(stage)
        out[stage] = []
        for ex in decl:
            answers = attempted_answers(st.graded, ex.id, _memo(text, cache))
            out[stage].append(exercise_similarity(stage, ex, answers, prints))
    return out


def _memo(text, cache):
    def rewrite(answer):
        if answer not in cache:
            cache[answer] = text(answer)
        return cache[answer]
    return rewrite
