"""The comparison of two versions on the same photos (trainer/promotion.py): McNemar's exact test against
values worked out by hand and against SciPy's exact binomial test, and what the comparison counts."""

from types import SimpleNamespace

import pytest
from scipy.stats import binomtest

from trainer.actions.promotion import compare_versions
from trainer.promotion import ALPHA, BETTER, NOT_DIFFERENT, WORSE, compare, mcnemar_exact, p_value_words

from .promotion_helpers import answered, answers
from .training_helpers import saved_version


@pytest.mark.parametrize(
    ("b", "c", "expected"),
    [
        (0, 0, 1.0),  # no discordant pair: nothing tells them apart
        (0, 5, 2 / 2**5),  # 0.0625: five to none is not yet significant at 0.05
        (0, 6, 2 / 2**6),  # 0.03125: six to none is
        (1, 10, 2 * (1 + 11) / 2**11),  # 0.01171875
        (3, 7, 2 * (1 + 10 + 45 + 120) / 2**10),  # 0.34375
        (5, 5, 1.0),  # the doubled tail passes 1: capped
    ],
)
def test_mcnemar_exact_matches_the_binomial_tails_worked_out_by_hand(b, c, expected):
    assert mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-12)
    assert mcnemar_exact(c, b) == pytest.approx(expected, rel=1e-12)  # two-sided: symmetric


@pytest.mark.parametrize(("b", "c"), [(2, 9), (13, 30), (40, 41), (100, 150), (5, 494), (700, 650)])
def test_mcnemar_exact_matches_scipys_exact_binomial_test(b, c):
    assert mcnemar_exact(b, c) == pytest.approx(binomtest(b, b + c, 0.5).pvalue, rel=1e-9, abs=1e-300)


def test_a_negative_count_is_refused():
    with pytest.raises(ValueError, match="negative"):
        mcnemar_exact(-1, 3)


def test_p_values_in_words():
    assert p_value_words(1e-120) == "p < 0.001"
    assert p_value_words(0.0312) == "p = 0.031"
    assert p_value_words(0.34375) == "p = 0.34"
    assert p_value_words(1.0) == "p = 1"


def _rows(pairs):
    return [
        SimpleNamespace(sha256=f"{n:064x}", name=f"photo-{n}.jpg", true_label=true, predicted_label=predicted)
        for n, (true, predicted) in enumerate(pairs)
    ]


def test_the_issues_dog_for_everything_model_is_significantly_worse():
    # The active version: 98.9% of 1,000 photos (6 cats and 5 dogs wrong); the candidate answers "dog" to all.
    active = _rows(answers(500, 500, wrong_cats=6, wrong_dogs=5))
    candidate = _rows(answers(500, 500, wrong_cats=500))
    comparison = compare("s" * 64, candidate, active)

    assert comparison.photos == 1000
    assert comparison.candidate.accuracy == 0.5 and comparison.other.accuracy == pytest.approx(0.989)
    assert comparison.candidate.per_class["cat"] == {"correct": 0, "total": 500, "accuracy": 0.0}
    assert comparison.candidate.per_class["dog"] == {"correct": 500, "total": 500, "accuracy": 1.0}
    assert comparison.other.per_class["cat"]["correct"] == 494 and comparison.other.per_class["dog"]["correct"] == 495
    # Discordant: 494 cats only the active version got right, 5 dogs only the candidate did; 6 both missed.
    assert (comparison.candidate_only, comparison.other_only) == (5, 494)
    assert len(comparison.disagreements) == 499
    assert comparison.p_value < 1e-100 and comparison.verdict == WORSE
    assert comparison.evidence()["verdict"] == WORSE and comparison.evidence()["photos"] == 1000


def test_the_disagreements_name_the_photo_and_who_was_right():
    active = _rows([("cat", "cat"), ("cat", "dog"), ("dog", "dog"), ("dog", "cat")])
    candidate = _rows([("cat", "dog"), ("cat", "cat"), ("dog", "dog"), ("dog", "cat")])
    comparison = compare("s" * 64, candidate, active)
    assert [(d.name, d.candidate_right, d.candidate_answer, d.other_answer) for d in comparison.disagreements] == [
        ("photo-0.jpg", False, "dog", "cat"),
        ("photo-1.jpg", True, "cat", "dog"),
    ]  # photo 3, wrong for both, is no disagreement
    assert comparison.verdict == NOT_DIFFERENT and comparison.p_value == 1.0


def test_better_needs_significance_not_just_a_higher_score():
    active = _rows(answers(50, 50, wrong_cats=5))
    assert compare("s", _rows(answers(50, 50)), active).verdict == NOT_DIFFERENT  # 5 to 0: p = 0.0625
    active = _rows(answers(50, 50, wrong_cats=6))
    comparison = compare("s", _rows(answers(50, 50)), active)
    assert comparison.verdict == BETTER and comparison.p_value < ALPHA  # 6 to 0: p = 0.031


def test_only_photos_both_answered_are_paired():
    candidate = _rows(answers(3, 3))
    active = _rows(answers(3, 3))[:4]
    assert compare("s", candidate, active).photos == 4
    assert compare("s", candidate, []) is None


@pytest.mark.django_db
def test_two_versions_are_compared_on_the_largest_photo_set_they_share():
    """A small lineage's frozen split (40 photos) cannot tell two versions apart; a thousand photos the admin
    measured both on can: the comparison takes the set with the most photos, whichever came first."""
    own, measured = "a" * 64, "b" * 64
    old = saved_version(name="old", test_sha256=own)
    new = saved_version(name="new", test_sha256=own)
    answered(old, own, answers(20, 20, wrong_cats=2))
    answered(new, own, answers(20, 20, wrong_cats=1))
    answered(old, measured, answers(500, 500, wrong_cats=40))
    answered(new, measured, answers(500, 500, wrong_cats=5))

    comparison = compare_versions(new, old)

    assert (comparison.test_sha256, comparison.photos) == (measured, 1000)
    assert comparison.verdict == BETTER
