"""The learning loop, end to end through catdog's own code, on the shipped data.

From the project root (about 7 minutes on this 2-core machine; README "The loop end to end" has the figures):

    .venv/bin/python -m bench.bench_loop                 # seed 1; every photo of the queue reviewed
    .venv/bin/python -m bench.bench_loop --budget 30 --seed 2

1. A root dataset of `--initial` (200) photos of ../shared/data/catsdogs/train, uploaded as a zip as the admin
   adds one, and a MobileNetV2 trained on it with the admin's default settings (the training task, in-process).
2. `--incoming` (400) other training photos go through predictions, as uploads of a user who allowed their
   corrections to be used; the user gives feedback by the photo's true class, except for `--wrong` (5%) of them,
   labelled as the other class on purpose.
3. A reviewer goes through the review queue in its order (classifier/review.py: disagreements first, then least
   margin) for `--budget` photos: the reviewer knows the truth, accepts right feedback and rejects the wrong
   (classifier/actions/review.py do_review). The accepted photos make a new dataset version of the root (frozen, the
   root's test split inherited), and a training of it.
4. The same budget spent in random order (the same reviewer), a dataset version and a training of it; and every
   photo reviewed (400), for the ceiling.
5. Every version is measured on the 1,000 photos of ../shared/data/catsdogs/test (never used above) through the
   measurement task, compared with the first on the same photos (McNemar's exact test), and promoted through the
   activation gate, which activates without a confirmation only a significantly better version.

Everything runs in a throwaway database and media folder under var/bench-loop-<seed>/; nothing is downloaded.
"""

import argparse
import io
import json
import os
import random
import shutil
import sys
import time
import uuid
import zipfile
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DATA = BASE_DIR.parent / "shared" / "data" / "catsdogs"
WEIGHTS = BASE_DIR.parent / "shared" / "weights" / "mobilenet_v2_1.0_224_no_top.weights.h5"
CLASSES = ("cat", "dog")


def _environment(var: Path) -> None:
    """A database and media folder of the bench's own; tasks run in this process (Celery's eager mode)."""
    if var.exists():
        shutil.rmtree(var)
    (var / "media").mkdir(parents=True)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "catdog_site.settings.test",
            "DATABASE_URL": f"sqlite:///{var / 'db.sqlite3'}",
            "CATDOG_VAR_DIR": str(var),
            "CATDOG_MEDIA_ROOT": str(var / "media"),
            "CELERY_TASK_ALWAYS_EAGER": "true",
            "CATDOG_MOBILENET_WEIGHTS": str(WEIGHTS),
            "TF_CPP_MIN_LOG_LEVEL": "2",
        }
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _draw(seed: int, initial: int, incoming: int) -> tuple[list[tuple[Path, str]], list[tuple[Path, str]]]:
    """Disjoint seeded draws of training photos, half of each class: the root's, then the users'."""
    rng = random.Random(seed)
    first, then = [], []
    for label in CLASSES:
        photos = sorted((DATA / "train" / label).glob("*.jpg"))
        rng.shuffle(photos)
        first += [(path, label) for path in photos[: initial // 2]]
        then += [(path, label) for path in photos[initial // 2 : initial // 2 + incoming // 2]]
    rng.shuffle(then)
    return first, then


def _dataset(name: str, photos: list[tuple[Path, str]]):
    """A dataset of `photos` uploaded as a zip archive, as the admin adds one, checked by the datasets task."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from trainer.actions import do_create_dataset
    from trainer.models import Dataset

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        for path, label in photos:
            zipped.write(path, f"{label}/{path.name}")
    upload = SimpleUploadedFile(f"{name}.zip", archive.getvalue(), content_type="application/zip")
    dataset = do_create_dataset(Dataset(name=name, source=Dataset.Source.ZIP), archive=upload)
    dataset.refresh_from_db()
    assert dataset.status == Dataset.Status.READY, dataset.error
    return dataset


def _train(dataset, name: str):
    """A training with the admin form's defaults (MobileNetV2), run by the training task in-process."""
    from trainer.actions import do_request_training
    from trainer.forms import TrainingForm

    form = TrainingForm(
        data={
            "architecture": "mobilenet_v2",
            "batch_size": 32,
            "test_split": 0.2,
            "seed": 1337,
            "name": name,
            "request_key": uuid.uuid4(),
        },
        dataset=dataset,
    )
    assert form.is_valid(), form.errors
    started = time.perf_counter()
    version, _ = do_request_training(dataset, name=name, params=form.params())
    version.refresh_from_db()
    assert version.status == "ready", version.error
    return version, time.perf_counter() - started


def _predict(user, photos: list[tuple[Path, str]]):
    """Each photo uploaded as the user would, answered by the active version (the prediction task, in-process)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from classifier.actions import do_create_predictions
    from classifier.validation import check_image_upload

    predictions = []
    for path, _ in photos:
        upload = SimpleUploadedFile(path.name, path.read_bytes(), content_type="image/jpeg")
        predictions += do_create_predictions(user, [check_image_upload(upload)])
    for prediction in predictions:
        prediction.refresh_from_db()
        assert prediction.status == "done", prediction.error
    return predictions


def _give_feedback(user, predictions, truths: list[str], wrong: float, seed: int) -> list[str]:
    """Feedback on every prediction: its true class, except a seeded `wrong` share given the other class."""
    from classifier.actions import do_give_feedback

    rng = random.Random(seed)
    liars = set(rng.sample(range(len(predictions)), round(wrong * len(predictions))))
    given = []
    for i, (prediction, truth) in enumerate(zip(predictions, truths, strict=True)):
        label = next(name for name in CLASSES if name != truth) if i in liars else truth
        do_give_feedback(prediction, user, label)
        given.append(label)
    return given


def _review(order, truth_of: dict[int, str], budget: int, reviewer) -> tuple[list, int]:
    """The reviewer's first `budget` decisions in `order`: right feedback accepted, wrong feedback rejected
    (do_review); the accepted predictions, and how many wrong labels were rejected."""
    from classifier.actions import do_review
    from classifier.models import Review

    accepted, rejected = [], 0
    for prediction in order[:budget]:
        if prediction.feedback.label == truth_of[prediction.pk]:
            accepted.append(do_review(prediction, Review.Decision.ACCEPTED, prediction.feedback.label, by=reviewer))
        else:
            do_review(prediction, Review.Decision.REJECTED, by=reviewer)
            rejected += 1
    return accepted, rejected


def _new_version(root, accepted, reviewer, name: str):
    """The queue's "New version from the review queue", with these accepted reviews."""
    from classifier.actions import do_derive_version_from_reviews

    return do_derive_version_from_reviews(root, accepted, by=reviewer, name=name)


def _measure(versions, test_set, by) -> None:
    """Every version measured on the shipped test photos through the measurement task (in-process)."""
    from trainer.actions import do_request_measurements

    for measurement in do_request_measurements(list(versions), test_set, by=by):
        measurement.refresh_from_db()
        assert measurement.status == "ready", measurement.error


def run(args, var: Path) -> dict:
    from django.contrib.auth.models import User

    from accounts.actions import do_set_corrections_consent
    from classifier.models import Review
    from classifier.review import predictions_in_order, review_queue
    from trainer.actions import ActivationRefused, do_activate_checked, do_activate_model_version
    from trainer.actions.promotion import compare_versions

    first, incoming = _draw(args.seed, args.initial, args.incoming)
    timings = {}
    root = _dataset("pets", first)
    base, timings["train_root_s"] = _train(root, "root")
    do_activate_model_version(base, reason="The bench's first version.")

    user = User.objects.create_user("user")
    do_set_corrections_consent(user, True)
    reviewer = User.objects.create_superuser("reviewer", email="", password=None)
    started = time.perf_counter()
    predictions = _predict(user, incoming)
    timings["predict_s"] = time.perf_counter() - started
    truths = [label for _, label in incoming]
    truth_of = {p.pk: truth for p, truth in zip(predictions, truths, strict=True)}
    feedback = _give_feedback(user, predictions, truths, args.wrong, args.seed)

    queue = predictions_in_order(review_queue().ids)
    budget = min(args.budget, len(queue))  # the queue holds only what deserves an eye: often less
    orders = {
        "active": queue,  # the review queue's order: disagreements first, then least margin
        # A stream of its own: the feedback's liars were drawn from Random(seed), and the same draw would put
        # them first here.
        "random": random.Random(f"order-{args.seed}").sample(predictions, len(predictions)),
        "all": predictions,
    }
    trained, reviewed = {"root": base}, {}
    for name, order in orders.items():
        Review.objects.all().delete()  # each reviewer starts over on the same photos
        count = len(order) if name == "all" else budget
        accepted, rejected = _review(order, truth_of, count, reviewer)
        reviewed[name] = {"reviewed": count, "accepted": len(accepted), "rejected": rejected}
        dataset = _new_version(root, accepted, reviewer, f"pets {name}")
        trained[name], timings[f"train_{name}_s"] = _train(dataset, name)

    test_photos = [(path, label) for label in CLASSES for path in sorted((DATA / "test" / label).glob("*.jpg"))]
    test_set = _dataset("shipped test photos", test_photos)
    _measure(trained.values(), test_set, reviewer)

    versions = {}
    for name, version in trained.items():
        comparison = compare_versions(version, base) if version != base else None
        measured = version.measurements.get(dataset=test_set)
        versions[name] = {
            "version": str(version),
            "photos_trained": version.trained_photos.count(),
            "accuracy_on_shipped_test": measured.accuracy,
            "against_root": None if comparison is None else comparison.evidence() | {"p_words": comparison.p_words},
            **reviewed.get(name, {}),
        }
    # The loop's last step: each new version goes through the activation gate, which activates at once only a
    # significantly better one (over the root, still active: a refused one changes nothing).
    promotion = {}
    for name in ("active", "random", "all"):
        try:
            promotion[name] = do_activate_checked(trained[name], by=reviewer, confirmed=False).reason
            do_activate_model_version(base, reason="The bench puts the root back for the next version.")
        except ActivationRefused as refusal:
            promotion[name] = f"refused: {refusal}"
    return {
        "initial_photos": args.initial,
        "incoming_photos": args.incoming,
        "wrong_feedback": sum(given != truth for given, truth in zip(feedback, truths, strict=True)),
        "queue_length": len(queue),
        "budget": budget,
        "versions": versions,
        "promotion": promotion,
        "timings_s": {name: round(seconds, 1) for name, seconds in timings.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--initial", type=int, default=200)
    parser.add_argument("--incoming", type=int, default=400)
    parser.add_argument("--wrong", type=float, default=0.05, help="share of deliberately wrong feedback")
    parser.add_argument("--budget", type=int, default=400, help="at most this many photos reviewed")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    for needed in (DATA / "train", DATA / "test", WEIGHTS):
        if not needed.exists():
            sys.exit(f"The bench needs {needed} (the shared data beside the checkout).")

    var = BASE_DIR / "var" / f"bench-loop-{args.seed}"
    _environment(var)
    result = run(args, var)
    (var / "result.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    print(summary(result))


def summary(result: dict) -> str:
    """The figures as a Markdown table, as the README records them."""
    lines = [
        f"{result['incoming_photos']} photos with feedback ({result['wrong_feedback']} wrong on purpose); the queue "
        f"held {result['queue_length']}; budget {result['budget']} reviews.",
        "",
        "| version | reviewed | accepted | rejected | trained on | shipped test accuracy | against the root "
        "(only it right / only root right, McNemar) | activation gate |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, row in result["versions"].items():
        against = row["against_root"]
        versus = ""
        if against is not None:
            versus = f"{against['candidate_only']} / {against['other_only']}, {against['p_words']}"
        gate = result["promotion"].get(name, "")
        gate = "refused" if gate.startswith("refused") else "activated" if gate else ""
        lines.append(
            f"| {name} | {row.get('reviewed', '')} | {row.get('accepted', '')} | {row.get('rejected', '')} | "
            f"{row['photos_trained']} | {row['accuracy_on_shipped_test']:.1%} | {versus} | {gate} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
