"""The verdict ("other", "unsure" or a class; trainer/ml/verdicts.py) on the shipped model: what it keeps, how
accurate the kept answers are, how many outliers it calls "other", and what it adds to a warm prediction.

From the project root, on an otherwise quiet machine:

    .venv/bin/python -m bench.bench_verdict                    # figures only
    .venv/bin/python -m bench.bench_verdict --write-shipped    # first rewrite trainer/shipped/catdog.calibration.*

--write-shipped runs `manage.py calibrate_version TRAIN TEST --shipped --outliers OUTLIERS` (the one writer
of the shipped calibration and its sidecar), then the figures; they end with a check that the shipped
calibration gives the verdicts of the bench's own fit.

The calibration is fitted on ../shared/data/catsdogs/train only; it is measured on .../test, on
../shared/data/outliers-lowres and on the set bench/outlier_photos.py builds (made first if --own is
missing). The model's outputs are cached under var/bench-verdict, so that a second run takes seconds.
Options: --single N (photos classified one at a time for the timing, default 200), --seed N.
"""

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np

from bench.verdict_features import BASE_DIR, SHIPPED_MODEL, Extractor, photos_by_class, photos_in

DATA = BASE_DIR.parent / "shared" / "data"
OWN_SET = BASE_DIR / "var" / "outlier-photos"
SHIPPED_CALIBRATION = SHIPPED_MODEL.with_suffix(".calibration.npz")


def outputs(extractor: Extractor, class_names: list[str], own: Path) -> dict:
    """(probabilities, features[, labels]) of the four sets, extracted once and then read from the cache."""
    sets = {}
    for name in ("train", "test"):
        paths, labels = photos_by_class(DATA / "catsdogs" / name, class_names)
        sets[name] = (*extractor.outputs(paths, name), labels)
    sets["outliers-lowres"] = extractor.outputs(photos_in(DATA / "outliers-lowres"), "outliers-lowres")
    sets["own"] = extractor.outputs(photos_in(own), "own")
    return sets


def detector_shares(calibration, features: np.ndarray) -> dict[str, dict[str, float]]:
    """Per operating point, the share each distance alone, and their union, calls "other"."""
    squared, cosine = calibration.distances(features)
    shares = {}
    for point, threshold in calibration.thresholds.items():
        far, apart = squared > threshold.mahalanobis, cosine > threshold.cosine
        shares[point] = {"mahalanobis": far.mean(), "nearest": apart.mean(), "union": (far | apart).mean()}
    return shares


def verdict_ms(calibration, probabilities: np.ndarray, features: np.ndarray, batch: int, repeats: int = 200):
    """Median milliseconds per photo of Calibration.verdicts on batches of `batch` photos."""
    times = []
    for i in range(repeats):
        start = (i * batch) % (len(features) - batch)
        rows = slice(start, start + batch)
        started = time.perf_counter()
        calibration.verdicts(probabilities[rows], features[rows], "balanced")
        times.append((time.perf_counter() - started) * 1000 / batch)
    return statistics.median(times)


def warm_prediction_ms(calibration, single: int) -> dict[str, float]:
    """Median inference_ms of the same photos classified with and without the verdict, interleaved."""
    from bench.bench_model import shipped_model

    paths, _ = photos_by_class(DATA / "catsdogs" / "test", calibration.class_names)
    paths = paths[:: max(1, len(paths) // single)][:single]
    plain = shipped_model()
    judged = shipped_model(calibration)
    times = {"without": [], "with": []}
    for i, path in enumerate(paths):
        order = (("without", plain), ("with", judged)) if i % 2 else (("with", judged), ("without", plain))
        for name, model in order:
            times[name].append(model.classify(str(path)).inference_ms)
    return {name: statistics.median(values) for name, values in times.items()}


def compare_shipped(calibration, sets: dict) -> None:
    """Whether the shipped calibration (trainer/shipped) says what the bench's own fit says."""
    from trainer.ml.verdicts import Calibration

    shipped = Calibration.load(SHIPPED_CALIBRATION)
    same = total = 0
    for name in ("test", "outliers-lowres", "own"):
        probabilities, features = sets[name][:2]
        for point in calibration.thresholds:
            ours = calibration.verdicts(probabilities, features, point)
            theirs = shipped.verdicts(probabilities, features, point)
            same += sum(a == b for a, b in zip(ours, theirs, strict=True))
            total += len(ours)
    size = SHIPPED_CALIBRATION.stat().st_size / 1e6
    print(f"{SHIPPED_CALIBRATION.name} ({size:.1f} MB): the same verdict as this fit for {same} of {total} answers")


def print_report(report: dict, own: dict, shares: dict) -> None:
    print(f"held-out test photos: {report['held_out']}, outliers-lowres: {report['outliers']}, own set: {own['n']}")
    print("point     kept   unsure  other  accuracy  lowres-other  own-other")
    for point, figures in report["operating_points"].items():
        accuracy = "-" if figures["accuracy"] is None else f"{figures['accuracy']:.2%}"
        print(
            f"{point:9} {figures['kept']:.1%}  {figures['unsure']:.1%}   {figures['other']:.1%}  {accuracy:>8}"
            f"  {figures['outliers_other']:>11.1%}  {own[point]:>9.1%}"
        )
    print("'other' by each distance alone (Mahalanobis / nearest photo / both):")
    for set_name, per_point in shares.items():
        for point, s in per_point.items():
            print(f"  {set_name:16} {point:9} {s['mahalanobis']:.1%} / {s['nearest']:.1%} / {s['union']:.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--own", type=Path, default=OWN_SET, help="the own outlier set (bench/outlier_photos.py)")
    parser.add_argument("--single", type=int, default=200)
    parser.add_argument("--seed", type=int, default=None, help="the calibration's seed (default: the shipped one)")
    parser.add_argument("--write-shipped", action="store_true")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "catdog_site.settings.local")
    import django

    django.setup()  # classifier.inference reads the settings
    from django.core.management import call_command

    from trainer.ml import DEFAULT_SEED
    from trainer.ml.verdicts import fit_calibration, measure

    if args.write_shipped:
        train, test = DATA / "catsdogs" / "train", DATA / "catsdogs" / "test"
        # Keyword options skip argparse, and with it the Path conversion the command expects.
        call_command("calibrate_version", str(train), str(test), shipped=True, outliers=DATA / "outliers-lowres")
    if not args.own.exists():
        from bench.outlier_photos import build

        print(f"Building the own outlier set in {args.own}: {build(args.own, DEFAULT_SEED)}")
    class_names = json.loads(SHIPPED_MODEL.with_suffix(".json").read_text())["class_names"]
    sets = outputs(Extractor(), class_names, args.own)

    started = time.perf_counter()
    train_p, train_f, train_y = sets["train"]
    calibration = fit_calibration(train_f, train_y, class_names, seed=DEFAULT_SEED if args.seed is None else args.seed)
    fit_seconds = time.perf_counter() - started
    test_p, test_f, test_y = sets["test"]
    low_p, low_f = sets["outliers-lowres"]
    report = measure(calibration, test_p, test_f, test_y, outlier_probabilities=low_p, outlier_features=low_f)
    own_p, own_f = sets["own"]
    own_report = measure(calibration, test_p, test_f, test_y, outlier_probabilities=own_p, outlier_features=own_f)
    own = {"n": len(own_f), **{p: f["outliers_other"] for p, f in own_report["operating_points"].items()}}
    shares = {name: detector_shares(calibration, sets[name][1]) for name in ("test", "outliers-lowres", "own")}
    print_report(report, own, shares)
    print(f"thresholds: {calibration.thresholds}")
    print(f"fit on {len(train_y)} training photos: {fit_seconds:.1f} s")

    for batch in (1, 32):
        print(f"verdict alone, batches of {batch}: {verdict_ms(calibration, test_p, test_f, batch):.3f} ms a photo")
    warm = warm_prediction_ms(calibration, args.single)
    print(
        f"warm prediction of {args.single} test photos, median: {warm['without']:.2f} ms without the verdict, "
        f"{warm['with']:.2f} ms with it (+{warm['with'] - warm['without']:.2f} ms)"
    )
    if SHIPPED_CALIBRATION.exists():
        compare_shipped(calibration, sets)


if __name__ == "__main__":
    main()
