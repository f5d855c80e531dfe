"""The verdict rule (trainer/ml/verdicts.py) on synthetic features: a class when sure, "unsure" between two
classes, "other" far from every class; its file; and every way a calibration is refused."""

import numpy as np
import pytest

from trainer.ml import OPERATING_POINTS, OTHER, UNSURE
from trainer.ml import verdicts as verdicts_module
from trainer.ml.outliers import fit_head, softmax
from trainer.ml.verdicts import MIN_MARGIN, Calibration, CalibrationError, fit_calibration, measure

D = 64
NAMES = ["cat", "dog", "fox"]
# Three classes along the first three axes; "cat" and "dog" overlap, so that the photos between them
# are common in training and the refitted head gets some of them wrong.
CENTRES = np.zeros((3, D))
CENTRES[0, 0], CENTRES[1, 0], CENTRES[2, 1] = -1.5, 1.5, 6.0
CENTRES[:, 2] = 4.0  # away from the origin, where cosine distances mean little
# Photos are made along those axes, then turned so that every feature carries a little of each, as real
# features do: a head trained with dropout cannot learn from a single feature that it drops half the time.
TURN = np.linalg.qr(np.random.default_rng(0).normal(size=(D, D)))[0]


def _unturned(rng, labels):
    return CENTRES[labels] + rng.normal(0, 1, (len(labels), D))


def _photos(rng, labels):
    return _unturned(rng, labels) @ TURN


@pytest.fixture(scope="module")
def training():
    rng = np.random.default_rng(7)
    labels = np.repeat(np.arange(3), 300)
    return _photos(rng, labels), labels


@pytest.fixture(scope="module")
def calibration(training):
    features, labels = training
    return fit_calibration(features, labels, NAMES, seed=3)


class _Served:
    """The served model of this synthetic world: a head trained on every training photo as catdog trains one."""

    def __init__(self, features, labels):
        self.kernel, self.bias = fit_head(features.astype(np.float32), labels, 3, np.random.default_rng(0))

    def __call__(self, features):
        return softmax(features @ self.kernel + self.bias)


@pytest.fixture(scope="module")
def served(training):
    return _Served(*training)


def _say(calibration, served, features, point="balanced"):
    return calibration.verdicts(served(features), features, point)


def test_it_answers_the_class_of_photos_well_inside_it(calibration, served):
    rng = np.random.default_rng(11)
    unturned = _unturned(rng, np.repeat([0, 2], 100))
    unturned[:100, 0] = -3.0  # cats on the far side from the dogs
    features = unturned @ TURN
    said = _say(calibration, served, features)
    assert said[:100].count("cat") >= 95
    assert said[100:].count("fox") >= 95


def test_it_is_unsure_between_two_classes_it_knows_and_so_keeps_fewer_wrong_answers(calibration, served):
    rng = np.random.default_rng(12)
    labels = np.repeat([0, 1], 500)  # cats and dogs, which overlap
    unturned = _unturned(rng, labels)
    features = unturned @ TURN
    said = np.array(_say(calibration, served, features, "strict"))
    unsure, kept = said == UNSURE, ~np.isin(said, [UNSURE, OTHER])
    assert unsure.mean() > 0.05
    # The photos it is unsure of lie between the two classes (the first axis's middle is 0).
    assert np.abs(unturned[unsure, 0]).mean() < 0.5 * np.abs(unturned[kept, 0]).mean()
    right_when_kept = (said[kept] == np.array(NAMES)[labels[kept]]).mean()
    right_always = (served(features).argmax(axis=1) == labels).mean()
    assert right_when_kept > right_always + 0.02
    assert calibration.threshold("strict").margin > MIN_MARGIN  # fitted, not the floor


def test_a_model_that_is_often_wrong_still_answers_most_photos(calibration, served):
    # Cats and dogs overlap: the head is wrong about one photo in ten. The margin asks for a third fewer
    # errors than that, not for an accuracy this model cannot reach.
    rng = np.random.default_rng(19)
    labels = np.repeat([0, 1], 500)
    features = _photos(rng, labels)
    said = np.array(_say(calibration, served, features, "balanced"))
    kept = ~np.isin(said, [UNSURE, OTHER])
    wrong_when_kept = 1 - (said[kept] == np.array(NAMES)[labels[kept]]).mean()
    wrong_always = 1 - (served(features).argmax(axis=1) == labels).mean()
    assert wrong_always > 0.05
    assert kept.mean() > 0.75
    assert wrong_when_kept < wrong_always * 0.8


def test_it_says_other_far_from_every_class_however_confident_the_model(calibration):
    rng = np.random.default_rng(13)
    features = rng.normal(0, 1, (50, D)) + 10 * rng.normal(0, 1, (50, D))
    confident = np.tile([0.999, 0.0005, 0.0005], (50, 1))
    assert calibration.verdicts(confident, features, "lenient") == [OTHER] * 50


def test_mahalanobis_says_other_where_the_nearest_photo_looks_the_same(calibration, served, training):
    # Five times a training photo points the same way as it (cosine distance 0) but lies far from every class.
    features, _ = training
    far_along = 5 * features[:20]
    _, cosine = calibration.distances(far_along)
    assert cosine.max() < 1e-3
    assert _say(calibration, served, far_along) == [OTHER] * 20


def test_the_nearest_photo_says_other_in_a_gap_the_class_mean_covers():
    # Each class is two clumps; its mean lies in the empty gap between them, close in Mahalanobis terms.
    rng = np.random.default_rng(5)
    labels = np.repeat([0, 1], 400)
    features = rng.normal(0, 0.3, (800, D))
    features[:, 2] += 4.0
    features[:, 0] += np.where(labels == 0, -3.0, 3.0)
    features[:, 1] += np.where(np.arange(800) % 2 == 0, -4.0, 4.0)
    calibration = fit_calibration(features, labels, ["cat", "dog"], seed=1)
    gap = rng.normal(0, 0.3, (20, D))
    gap[:, 0] -= 3.0
    gap[:, 2] += 4.0
    squared, _ = calibration.distances(gap)
    assert squared.max() < calibration.threshold("balanced").mahalanobis
    assert calibration.verdicts(np.tile([0.99, 0.01], (20, 1)), gap, "balanced") == [OTHER] * 20


def test_each_operating_point_keeps_about_its_share_of_new_photos_of_the_classes(calibration, served):
    rng = np.random.default_rng(14)
    features = _photos(rng, np.repeat(np.arange(3), 1000))
    for point, share in OPERATING_POINTS.items():
        other = _say(calibration, served, features, point).count(OTHER) / len(features)
        assert other <= 2.5 * (1 - share) + 0.005, point
    strict, lenient = (_say(calibration, served, features, p).count(OTHER) for p in ("strict", "lenient"))
    assert strict > lenient


def test_measure_reports_every_share_and_the_accuracy_of_the_kept_answers(calibration, served):
    rng = np.random.default_rng(15)
    labels = np.repeat(np.arange(3), 200)
    features = _photos(rng, labels)
    far = 10 * rng.normal(0, 1, (40, D))
    report = measure(
        calibration,
        served(features),
        features,
        labels,
        outlier_probabilities=served(far),
        outlier_features=far,
    )
    assert (report["held_out"], report["outliers"]) == (600, 40)
    balanced = report["operating_points"]["balanced"]
    said = np.array(_say(calibration, served, features))
    kept = ~np.isin(said, [UNSURE, OTHER])
    assert balanced["kept"] == pytest.approx(kept.mean())
    assert balanced["kept"] + balanced["unsure"] + balanced["other"] == pytest.approx(1.0)
    assert balanced["accuracy"] == pytest.approx((said[kept] == np.array(NAMES)[labels][kept]).mean())
    assert balanced["outliers_other"] == 1.0
    assert set(report["operating_points"]) == set(OPERATING_POINTS)


def test_measure_gives_no_accuracy_when_nothing_is_kept(calibration, served):
    far = 10 * np.random.default_rng(16).normal(0, 1, (30, D))
    report = measure(calibration, served(far), far, np.zeros(30, dtype=int))
    assert report["operating_points"]["strict"]["accuracy"] is None
    assert report["operating_points"]["strict"]["outliers_other"] is None
    assert report["outliers"] == 0


def test_a_saved_calibration_loads_and_gives_the_same_verdicts(calibration, served, tmp_path):
    rng = np.random.default_rng(17)
    features = np.concatenate([_photos(rng, np.repeat(np.arange(3), 50)), 10 * rng.normal(0, 1, (20, D))])
    path = tmp_path / "calibration.npz"
    calibration.save(path)
    loaded = Calibration.load(path)
    assert loaded.class_names == NAMES
    for point in OPERATING_POINTS:
        assert _say(loaded, served, features, point) == _say(calibration, served, features, point)
    with np.load(path, allow_pickle=False) as stored:
        assert stored["reference"].dtype == np.float16


def test_tiny_datasets_calibrate(tmp_path):
    rng = np.random.default_rng(18)
    for per_class in (2, 3, 20):
        labels = np.repeat([0, 1], per_class)
        features = CENTRES[[0, 2]][labels] + rng.normal(0, 1, (len(labels), D))  # cats and foxes, far apart
        fit_calibration(features, labels, ["cat", "fox"], seed=0).save(tmp_path / "tiny.npz")
        calibration = Calibration.load(tmp_path / "tiny.npz")
        photos = np.concatenate([CENTRES[[0, 0]], 10 * rng.normal(0, 1, (1, D))])
        said = calibration.verdicts(np.array([[1.0, 0.0], [0.5, 0.5], [1.0, 0.0]]), photos, "balanced")
        assert said == ["cat", UNSURE, OTHER], per_class


def test_a_toss_up_is_unsure_even_where_the_held_out_photos_never_needed_a_margin():
    rng = np.random.default_rng(20)
    labels = np.repeat([0, 1], 200)
    unturned = rng.normal(0, 1, (400, D))
    unturned[:, 0] += np.where(labels == 0, -10.0, 10.0)  # so far apart that no photo is ever mistaken
    unturned[:, 2] += 4.0
    features = unturned @ TURN
    calibration = fit_calibration(features, labels, ["cat", "fox"], seed=0)
    said = calibration.verdicts(np.array([[0.53, 0.47], [0.97, 0.03]]), features[:2], "lenient")
    assert said == [UNSURE, "cat"]


def test_the_reference_photos_are_capped_and_keep_every_class(monkeypatch, training):
    features, labels = training
    monkeypatch.setattr(verdicts_module, "MAX_REFERENCE", 60)
    calibration = fit_calibration(features, labels, NAMES, seed=0)
    assert len(calibration.reference) == 60
    unit = features / np.linalg.norm(features, axis=1, keepdims=True)
    rows = (calibration.reference @ unit.T).argmax(axis=1)  # which training photo each reference row is
    assert np.bincount(labels[rows], minlength=3).tolist() == [20, 20, 20]


def test_a_class_with_one_photo_cannot_be_calibrated(training):
    features, labels = training
    labels = labels.copy()
    labels[0] = 3  # one photo of a fourth class
    with pytest.raises(CalibrationError, match="owl has fewer than two"):
        fit_calibration(features, labels, [*NAMES, "owl"], seed=0)


@pytest.mark.parametrize("names", [["cat"], ["cat", "cat"], ["cat", "other"]])
def test_class_names_that_cannot_be_told_apart_from_verdicts_are_refused(training, names):
    features, labels = training
    with pytest.raises(CalibrationError):
        fit_calibration(features[labels < 2], labels[labels < 2], names, seed=0)


def test_an_unknown_operating_point_names_the_choices(calibration):
    with pytest.raises(ValueError, match="strict, balanced, lenient"):
        calibration.verdicts(np.array([[0.5, 0.3, 0.2]]), CENTRES[:1], "reckless")


def test_a_file_that_is_not_a_calibration_is_refused(tmp_path):
    path = tmp_path / "calibration.npz"
    path.write_text("not numbers")
    with pytest.raises(CalibrationError, match="not a calibration file"):
        Calibration.load(path)


def _stored(calibration, tmp_path) -> dict:
    path = tmp_path / "good.npz"
    calibration.save(path)
    with np.load(path) as stored:
        return dict(stored)


def _load_changed(tmp_path, arrays, **changes):
    path = tmp_path / "changed.npz"
    np.savez(path, **{**arrays, **changes})
    return Calibration.load(path)


def test_a_file_of_another_format_is_refused(calibration, tmp_path):
    arrays = _stored(calibration, tmp_path)
    with pytest.raises(CalibrationError, match="not a catdog calibration"):
        _load_changed(tmp_path, arrays, format=np.array("something-else"))


def test_a_file_of_another_version_is_refused(calibration, tmp_path):
    arrays = _stored(calibration, tmp_path)
    with pytest.raises(CalibrationError, match="format version 2"):
        _load_changed(tmp_path, arrays, version=np.array(2))


@pytest.mark.parametrize(
    "change",
    [
        {"means": np.zeros((2, D), np.float32)},  # two means for three classes
        {"reference": np.zeros((5, D + 1), np.float16)},
        {"whitening": np.zeros((D, D - 1), np.float32)},
        {"thresholds": np.zeros((2, 3))},  # two rows for three operating points
    ],
)
def test_a_file_whose_shapes_do_not_fit_together_is_refused(calibration, tmp_path, change):
    arrays = _stored(calibration, tmp_path)
    with pytest.raises(CalibrationError, match="do not fit together"):
        _load_changed(tmp_path, arrays, **change)


def test_a_file_missing_an_array_is_refused(calibration, tmp_path):
    arrays = _stored(calibration, tmp_path)
    del arrays["reference"]
    with pytest.raises(CalibrationError, match="lacks reference"):
        _load_changed(tmp_path, arrays)
