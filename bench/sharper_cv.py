"""Which default MobileNetV2 training is sharpest, by stratified k-fold cross-validation on the training photos only.

    nice -n 5 .venv/bin/python -m bench.sharper_cv                     # every variant, 5 folds
    nice -n 5 .venv/bin/python -m bench.sharper_cv --variants head head_flip ft_conv1

The procedure. The frozen backbone (the shipped model's ImageNet MobileNetV2, as a training starts from it) is
run ONCE over every training photo and its left-right mirror, up to `block_15_add` (7x7x160), and the result is
cached under --cache (/tmp/sharper). What follows is cheap to compute from the cache: block_16 and Conv_1 are
about 43 of the network's 300 million multiply-adds a photo. The photos are then split
into --folds stratified, seeded folds; each variant trains on k-1 folds (a photo and its mirror always fall in
the same fold) and is scored on the held-out fold's photos as they are (never mirrored, unless the variant
averages over a flip at test time). The test folder is never read here: the winner is picked on these figures,
and measured once on the test photos by `manage.py train_model` afterwards.

The variants:
- head: today's default, a softmax head (dropout 0.5) on the pooled frozen features of the photos, 20 epochs,
  Adam at 1e-3 with cosine decay, batches of 32; and head_flip, the same head on the photos and their mirrors
  (both always run: the fine-tunings start from them);
- ft_conv1: head_flip's head, then Conv_1 (320 to 1,280 channels) fine-tuned with it on the cached 7x7x320
  maps of block_16 (photos and mirrors) at a small learning rate, batch normalisation frozen;
- ft_block16: the same with block_16 (expand, depthwise, project) fine-tuned as well, from the 7x7x160 cache;
- ft_block16_photos: ft_block16 from the head of the photos alone, fine-tuned on the photos alone;
- and each of them with "+tta": the held-out photo's probabilities averaged with its mirror's (twice the
  serving cost).
Prints each variant's accuracy per fold, its mean, and the seconds its training took per fold.
"""

import argparse
import hashlib
import os
import tempfile
import time
from pathlib import Path

import numpy as np

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DATA = BASE_DIR.parent / "shared" / "data" / "catsdogs" / "train"
DEFAULT_WEIGHTS = BASE_DIR / "trainer" / "shipped" / "catdog.keras"
CUT = "block_15_add"  # the last layer of the frozen part that is cached: trainer.ml.model.TUNED_AFTER
CONV1_START = "block_16_project_BN"  # ft_conv1 starts after it
# The fine-tunings: name, the layer after which the network learns, whether it learns from the mirrors too.
FINE_TUNINGS = (
    ("ft_conv1", CONV1_START, True),
    ("ft_block16", CUT, True),
    ("ft_block16_photos", CUT, False),
)
VARIANTS = ("head", *(name for name, _, _ in FINE_TUNINGS))
IMAGE_SIZE = 224  # --size
BATCH = 32


def cached_maps(paths: list[Path], weights: Path, cache_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """The frozen backbone's `CUT` maps of every photo and of its mirror, computed once and kept in `cache_dir`."""
    listing = "\n".join(f"{p} {p.stat().st_size} {p.stat().st_mtime_ns}" for p in paths)
    key = hashlib.sha256(f"{IMAGE_SIZE} {weights} {weights.stat().st_mtime_ns}\n{listing}".encode()).hexdigest()[:16]
    files = [cache_dir / f"{CUT}-{key}-{side}.npy" for side in ("photo", "mirror")]
    if all(f.exists() for f in files):
        return tuple(np.load(f) for f in files)

    from trainer.ml import MOBILENET_V2
    from trainer.ml.data import image_batches
    from trainer.ml.inputs import extract_outputs
    from trainer.ml.model import BACKBONE, TUNED_AFTER, make_model, split_backbone

    assert CUT == TUNED_AFTER, "the cache is the training's own frozen front"
    # The training's own model and path: its rescaling, its front, its mirroring (trainer/ml/inputs.py).
    model = make_model(MOBILENET_V2, (IMAGE_SIZE, IMAGE_SIZE, 3), 2, augmentation="none", weights=str(weights))
    front, _ = split_backbone(model.get_layer("encoder").get_layer(BACKBONE))
    started = time.monotonic()
    photo, mirror = extract_outputs(model, front, image_batches(paths, IMAGE_SIZE, BATCH), mirror=True)
    print(f"cached {CUT} of {len(paths)} photos and their mirrors in {time.monotonic() - started:.0f} s")
    cache_dir.mkdir(parents=True, exist_ok=True)
    arrays = (photo, mirror)
    for f, array in zip(files, arrays, strict=True):
        np.save(f, array)
    return arrays


def stratified_folds(labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    from trainer.ml.outliers import stratified_folds as folds_of

    return folds_of(labels, folds, np.random.default_rng(seed))


class Experiment:
    """The backbone's tail from the cache, reset to the frozen weights before every fit."""

    def __init__(self, weights: Path, num_classes: int, seed: int):
        from trainer.ml.model import make_mobilenet_v2_backbone

        self.backbone = make_mobilenet_v2_backbone((IMAGE_SIZE, IMAGE_SIZE, 3), str(weights))
        self.frozen = self.backbone.get_weights()
        self.num_classes, self.seed = num_classes, seed
        self.tails = {start: self._tail(start) for start in (CUT, CONV1_START)}

    def _tail(self, start: str):
        """The backbone's layers after `start`, as a model from its output to the pooled features."""
        import keras

        names = [layer.name for layer in self.backbone.layers]
        x = inputs = keras.Input(self.backbone.get_layer(start).output.shape[1:])
        for layer in self.backbone.layers[names.index(start) + 1 :]:
            x = layer(x)
        return keras.Model(inputs, x)

    def reset(self, trainable_after: str | None):
        """Frozen weights again; the convolutions after `trainable_after` learn (batch normalisation never)."""
        import keras

        self.backbone.set_weights(self.frozen)
        self.backbone.trainable = False
        if trainable_after is not None:
            names = [layer.name for layer in self.backbone.layers]
            for layer in self.backbone.layers[names.index(trainable_after) + 1 :]:
                layer.trainable = not isinstance(layer, keras.layers.BatchNormalization)

    def predict(self, model, x: np.ndarray) -> np.ndarray:
        return model.predict(x, batch_size=256, verbose=0)

    def head(self, dropout: float = 0.5):
        import keras
        from keras import layers

        return keras.Sequential(
            [layers.Dropout(dropout), layers.Dense(self.num_classes, activation="softmax", name="predictions")],
            name="head",
        )

    def fit(self, model, x, y, epochs: int, learning_rate: float):
        import keras

        keras.utils.set_random_seed(self.seed)
        steps = epochs * -(-len(y) // BATCH)
        model.compile(
            optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(learning_rate, steps)),
            loss="sparse_categorical_crossentropy",
        )
        model.fit(x, y, batch_size=BATCH, epochs=epochs, shuffle=True, verbose=0)


def run_fold(experiment: Experiment, data, train, held, variants, args) -> dict[str, tuple[np.ndarray, float]]:
    """Every variant's held-out probabilities (photo, mirror averaged for "+tta") and its training seconds."""
    import keras

    photo, mirror, labels = data
    results = {}
    experiment.reset(None)
    conv1_in = {}
    tail = experiment.tails[CUT]
    pooled_photo = experiment.predict(tail, photo)
    pooled_mirror = experiment.predict(tail, mirror)
    y2 = np.concatenate([labels[train], labels[train]])

    heads = {}  # by whether it learnt from the mirrors too: its weights and seconds
    for mirrored, name in ((False, "head"), (True, "head_flip")):
        started = time.monotonic()
        keras.utils.set_random_seed(args.seed)
        head = experiment.head()
        if mirrored:
            experiment.fit(head, np.concatenate([pooled_photo[train], pooled_mirror[train]]), y2, 20, 1e-3)
        else:
            experiment.fit(head, pooled_photo[train], labels[train], 20, 1e-3)
        heads[mirrored] = (head.get_weights(), time.monotonic() - started)
        p = experiment.predict(head, pooled_photo[held])
        results[name] = (p, heads[mirrored][1])
        results[f"{name}+tta"] = ((p + experiment.predict(head, pooled_mirror[held])) / 2, heads[mirrored][1])

    for variant, start, mirrored in FINE_TUNINGS:
        if variant not in variants:
            continue
        experiment.reset(None)
        if start == CUT:
            x_photo, x_mirror = photo, mirror
        else:
            if not conv1_in:
                front = _front(experiment, CUT, CONV1_START)
                conv1_in["photo"] = experiment.predict(front, photo)
                conv1_in["mirror"] = experiment.predict(front, mirror)
            x_photo, x_mirror = conv1_in["photo"], conv1_in["mirror"]
        started = time.monotonic()
        experiment.reset(start)
        head.set_weights(heads[mirrored][0])
        model = keras.Sequential([experiment.tails[start], head])
        if mirrored:
            x, y = np.concatenate([x_photo[train], x_mirror[train]]), y2
        else:
            x, y = x_photo[train], labels[train]
        experiment.fit(model, x, y, args.ft_epochs, args.ft_lr)
        seconds = heads[mirrored][1] + time.monotonic() - started
        p = experiment.predict(model, x_photo[held])
        results[variant] = (p, seconds)
        results[f"{variant}+tta"] = ((p + experiment.predict(model, x_mirror[held])) / 2, seconds)
    return results


def _front(experiment: Experiment, start: str, end: str):
    """The frozen layers after `start` up to `end`, as a model (block_16, to make ft_conv1's cache)."""
    import keras

    backbone = experiment.backbone
    names = [layer.name for layer in backbone.layers]
    x = inputs = keras.Input(backbone.get_layer(start).output.shape[1:])
    for layer in backbone.layers[names.index(start) + 1 : names.index(end) + 1]:
        x = layer(x)
    return keras.Model(inputs, x)


def main() -> None:
    global IMAGE_SIZE  # read by every step; a script run once, with one size
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "sharper")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--size", type=int, default=IMAGE_SIZE, help="the photos' side in pixels (224 by default)")
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--ft-epochs", type=int, default=5)
    parser.add_argument("--ft-lr", type=float, default=1e-4)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    IMAGE_SIZE = args.size

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "catdog_site.settings.local")
    import django

    django.setup()  # trainer/images.py, which decodes the photos, reads the settings
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from trainer.ml.data import list_class_folder

    paths, labels, class_names = list_class_folder(args.data)
    photo, mirror = cached_maps(paths, args.weights, args.cache)
    fold = stratified_folds(labels, args.folds, args.seed)
    experiment = Experiment(args.weights, len(class_names), args.seed)
    scores: dict[str, list[float]] = {}
    seconds: dict[str, list[float]] = {}
    for k in range(args.folds):
        train, held = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
        results = run_fold(experiment, (photo, mirror, labels), train, held, args.variants, args)
        for name, (probabilities, took) in results.items():
            scores.setdefault(name, []).append(float((probabilities.argmax(axis=1) == labels[held]).mean()))
            seconds.setdefault(name, []).append(took)
        print(f"fold {k + 1}/{args.folds}: " + ", ".join(f"{n} {s[-1]:.2%}" for n, s in scores.items()), flush=True)

    print(
        f"\n{args.folds}-fold CV on {len(labels)} photos of {args.data} (seed {args.seed}; fine-tuning: "
        f"{args.ft_epochs} epochs at {args.ft_lr:g})"
    )
    print("| variant | mean | per fold | training s per fold |\n| --- | --- | --- | --- |")
    for name, values in scores.items():
        per_fold = " ".join(f"{v:.2%}" for v in values)
        print(f"| {name} | {np.mean(values):.2%} | {per_fold} | {np.mean(seconds[name]):.1f} |")


if __name__ == "__main__":
    main()
