"""Versions' answers on shared photos, for the promotion tests (tests/test_promotion_*.py)."""

from trainer.models import TestPhotoResult


def photo_sha256(n: int) -> str:
    return f"{n:064x}"


def answered(version, test_sha256: str, answers: list[tuple[str, str]]) -> None:
    """`version`'s answer on each photo of the set `test_sha256`: photo n is (true class, answer) answers[n],
    so that two versions given answers of the same length answered the same photos."""
    TestPhotoResult.objects.bulk_create(
        TestPhotoResult(
            version=version,
            test_sha256=test_sha256,
            sha256=photo_sha256(n),
            name=f"photo-{n}.jpg",
            true_label=true,
            predicted_label=predicted,
            confidence=0.9,
            probabilities={true: 0.9 if true == predicted else 0.1},
        )
        for n, (true, predicted) in enumerate(answers)
    )


def answers(cats: int, dogs: int, *, wrong_cats: int = 0, wrong_dogs: int = 0) -> list[tuple[str, str]]:
    """`cats` cat photos then `dogs` dog photos, the first `wrong_cats` cats answered dog and the first
    `wrong_dogs` dogs answered cat."""
    return [("cat", "dog" if n < wrong_cats else "cat") for n in range(cats)] + [
        ("dog", "cat" if n < wrong_dogs else "dog") for n in range(dogs)
    ]
