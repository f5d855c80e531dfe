"""Two versions compared on the same photos: each one's accuracy, overall and per class, the photos they
disagree on, and McNemar's exact test on the paired answers. Plain Python: the web process reads it.

McNemar's test looks only at the discordant pairs, the photos one version answered right and the other
wrong: if the versions were equally good, each such photo would be the candidate's with probability 1/2,
so the candidate's count is binomial(n, 1/2) and the two-sided exact p-value is twice the smaller tail.
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

# A difference is significant when McNemar's p-value is below this.
ALPHA = 0.05

BETTER = "better"
WORSE = "worse"
NOT_DIFFERENT = "not_different"
VERDICT_WORDS = {
    BETTER: "significantly better",
    WORSE: "significantly worse",
    NOT_DIFFERENT: "not significantly different",
}


def mcnemar_exact(candidate_only: int, other_only: int) -> float:
    """Two-sided exact p-value of McNemar's test: `candidate_only` photos only the candidate answered right,
    `other_only` only the other version. Exact integer arithmetic: no rounding in the tails of large counts."""
    if candidate_only < 0 or other_only < 0:
        raise ValueError("Counts of photos cannot be negative.")
    n = candidate_only + other_only
    if n == 0:
        return 1.0
    smaller = min(candidate_only, other_only)
    tail = sum(math.comb(n, k) for k in range(smaller + 1))
    return min(1.0, 2 * tail / 2**n)


def percent(share: float | None) -> str:
    """A share as the pages and the confirmations say it: "98.9%"."""
    return "an unknown share" if share is None else f"{100 * share:.1f}%"


def p_value_words(p: float) -> str:
    """The p-value as the page says it: "p < 0.001", "p = 0.032", "p = 1"."""
    if p < 0.001:
        return "p < 0.001"
    if p >= 0.9995:
        return "p = 1"
    return f"p = {p:.3f}" if p < 0.1 else f"p = {p:.2f}"


def chance_words(p: float) -> str:
    """What the p-value means, for a person deciding whether to activate."""
    if p < 0.001:
        odds = "less than once in 1,000 times"
    elif p < ALPHA:
        odds = f"about {p * 100:.1f} times in 100"
    else:
        odds = f"about {round(p * 100)} times in 100"
    return f"Two equally good versions would disagree this one-sidedly {odds} by chance."


@dataclass
class Score:
    """How many photos one version answered right, overall and per true class."""

    correct: int
    total: int
    per_class: dict[str, dict] = field(default_factory=dict)  # {class: {"correct", "total", "accuracy"}}

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0


@dataclass
class Disagreement:
    """A photo one version answered right and the other wrong."""

    sha256: str
    name: str
    true_label: str
    candidate_answer: str
    other_answer: str

    @property
    def candidate_right(self) -> bool:
        return self.candidate_answer == self.true_label


@dataclass
class Comparison:
    test_sha256: str
    photos: int  # paired photos: answered by both
    candidate: Score
    other: Score
    candidate_only: int  # photos only the candidate answered right
    other_only: int
    p_value: float
    disagreements: list[Disagreement]

    @property
    def verdict(self) -> str:
        if self.p_value >= ALPHA or self.candidate_only == self.other_only:
            return NOT_DIFFERENT
        return BETTER if self.candidate_only > self.other_only else WORSE

    @property
    def verdict_words(self) -> str:
        return VERDICT_WORDS[self.verdict]

    @property
    def p_words(self) -> str:
        return p_value_words(self.p_value)

    @property
    def chance_words(self) -> str:
        return chance_words(self.p_value)

    def evidence(self) -> dict:
        """The numbers an activation is recorded with (trainer.Activation.evidence), as JSON."""
        return {
            "test_sha256": self.test_sha256,
            "photos": self.photos,
            "candidate_accuracy": self.candidate.accuracy,
            "other_accuracy": self.other.accuracy,
            "candidate_per_class": self.candidate.per_class,
            "other_per_class": self.other.per_class,
            "candidate_only": self.candidate_only,
            "other_only": self.other_only,
            "p_value": self.p_value,
            "verdict": self.verdict,
        }


def _score(answers: dict[str, tuple[str, str]], class_names: list[str]) -> Score:
    per_class = {name: {"correct": 0, "total": 0} for name in class_names}
    for true, predicted in answers.values():
        counts = per_class.setdefault(true, {"correct": 0, "total": 0})
        counts["total"] += 1
        counts["correct"] += true == predicted
    for counts in per_class.values():
        counts["accuracy"] = counts["correct"] / counts["total"] if counts["total"] else None
    correct = sum(counts["correct"] for counts in per_class.values())
    return Score(correct=correct, total=len(answers), per_class=per_class)


def compare(test_sha256: str, candidate_rows: Iterable, other_rows: Iterable) -> Comparison | None:
    """Compare two versions' answers (TestPhotoResult rows, or anything with sha256, name, true_label and
    predicted_label) on the photos both answered, paired by content. None when they share no photo."""
    candidate = {row.sha256: row for row in candidate_rows}
    other = {row.sha256: row for row in other_rows}
    paired = sorted(candidate.keys() & other.keys(), key=lambda sha256: (candidate[sha256].name, sha256))
    if not paired:
        return None
    class_names = sorted({candidate[sha256].true_label for sha256 in paired})
    candidate_answers = {s: (candidate[s].true_label, candidate[s].predicted_label) for s in paired}
    other_answers = {s: (candidate[s].true_label, other[s].predicted_label) for s in paired}
    disagreements = [
        Disagreement(
            sha256=s,
            name=candidate[s].name,
            true_label=candidate[s].true_label,
            candidate_answer=candidate[s].predicted_label,
            other_answer=other[s].predicted_label,
        )
        for s in paired
        if (candidate_answers[s][1] == candidate_answers[s][0]) != (other_answers[s][1] == other_answers[s][0])
    ]
    candidate_only = sum(d.candidate_right for d in disagreements)
    other_only = len(disagreements) - candidate_only
    return Comparison(
        test_sha256=test_sha256,
        photos=len(paired),
        candidate=_score(candidate_answers, class_names),
        other=_score(other_answers, class_names),
        candidate_only=candidate_only,
        other_only=other_only,
        p_value=mcnemar_exact(candidate_only, other_only),
        disagreements=disagreements,
    )
