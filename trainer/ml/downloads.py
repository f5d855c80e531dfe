"""The files a user downloads: a version's model as Keras, SavedModel, TFLite and ONNX, each taking RGB images of
any size as uint8 (batch, height, width, 3) and giving the class probabilities in its class order, with the resize
to the model's size (bilinear) and the rescaling inside. Each comes as a zip with labels.txt and a README.md whose
script answers a photo exactly as the server does.

Why exactly: the server decodes a photo to the model's size with Pillow (trainer/images.py `load_for_model`) and
the served model rescales it. Fed that array, a download's own resize maps a size-by-size image onto itself (a
bilinear resize to the same size samples every pixel at its own centre), so it gives the server's answer. `verify`
checks that on the version's test photos, and checks the photos at their own size against Keras resizing inside.
Imports TensorFlow: the training worker and management commands only.
"""

import dataclasses
import zipfile
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import layers
from PIL import Image

from ..images import to_rgb
from .agreement import ExportedFile, agreement
from .data import image_batches
from .export import load_runner, tally, tflite_from_saved_model, write_onnx, write_saved_model
from .serving import pixels_function, serving_model

DOWNLOADS = {"keras": "model.keras", "savedmodel": "saved_model", "tflite": "model.tflite", "onnx": "model.onnx"}
# Test photos also checked at their own size, one at a time.
OWN_SIZE_PHOTOS = 8
_BATCH = 32


def export_verified(
    model_path: Path, photos: list[Path], folder: Path, *, version: str, class_names: list[str]
) -> list[ExportedFile]:
    """The downloads of the saved model `model_path`, each verified on `photos` and zipped into `folder` with its
    labels and README."""
    model = keras.saving.load_model(model_path, compile=False)
    checked = verify(model, photos, export_downloads(model, folder / "models"))
    size = model.input_shape[1]
    return [
        dataclasses.replace(
            export, path=package(export, folder, version=version, class_names=class_names, image_size=size)
        )
        for export in checked
    ]


def download_model(model: keras.Model) -> keras.Model:
    """`model` as a model from RGB uint8 images of any size to {"probabilities"}, resizing inside."""
    height, width = model.input_shape[1:3]
    image = keras.Input((None, None, 3), dtype="uint8", name="image")
    # Resized as floats: a uint8 resize rounds, and graph and eager TensorFlow rounded some pixels apart.
    pixels = keras.ops.cast(image, "float32")
    resized = layers.Resizing(height, width, interpolation="bilinear", name="resize")(pixels)
    # training=False recorded in the graph: called as a layer without it, the model ran its dropout on every call.
    probabilities = model(resized, training=False)
    return keras.Model(image, {"probabilities": probabilities}, name=f"{model.name}_any_size")


def image_function(download: keras.Model) -> tf.types.experimental.GenericFunction:
    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name="image")])
    def probabilities(image):
        return download(image, training=False)

    return probabilities


def export_downloads(model: keras.Model, folder: Path) -> dict[str, Path]:
    """Write the four download models of `model` into `folder` (the SavedModel is a folder): {kind: path}."""
    folder.mkdir(parents=True, exist_ok=True)
    download = download_model(model)
    function = image_function(download)
    paths = {kind: folder / name for kind, name in DOWNLOADS.items()}
    download.save(paths["keras"])
    write_saved_model(download, function, paths["savedmodel"])
    tflite_from_saved_model(paths["savedmodel"], paths["tflite"])
    write_onnx(function, paths["onnx"])
    return paths


def verify(model: keras.Model, photos: list[Path], files: dict[str, Path]) -> list[ExportedFile]:
    """Check each download against the server's answer (Keras's served model on the photos decoded as the server
    decodes them), and against Keras resizing inside on OWN_SIZE_PHOTOS of them at their own size."""
    tallies, runners = {}, {}
    for kind, path in files.items():
        name, load = _RUNTIMES[kind]
        tallies[kind] = {}
        load_runner(kind, name, lambda load=load, path=path: load(path), tallies, runners)
    serve = pixels_function(serving_model(model))
    tally(image_batches(list(photos), model.input_shape[1], _BATCH), serve, runners, tallies)
    own_size = (np.asarray(to_rgb(Image.open(photo)))[np.newaxis] for photo in photos[:OWN_SIZE_PHOTOS])
    tally(own_size, download_model(model), runners, tallies)
    return [agreement(kind, path, len(photos), tallies[kind]) for kind, path in files.items()]


def _keras(path: Path):
    loaded = keras.saving.load_model(path, compile=False)
    return lambda image, reference: {"probabilities": np.asarray(loaded(image)["probabilities"])}


def _saved_model(path: Path):
    signature = tf.saved_model.load(str(path)).signatures["serving_default"]
    return lambda image, reference: {"probabilities": signature(image=tf.constant(image))["probabilities"].numpy()}


def _tflite(path: Path):
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=str(path)).get_signature_runner()
    return lambda image, reference: runner(image=image)


def _onnx(path: Path):
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return lambda image, reference: {"probabilities": session.run(["probabilities"], {"image": image})[0]}


# kind -> (the runtime a user would load it with, its loader)
_RUNTIMES = {
    "keras": ("Keras", _keras),
    "savedmodel": ("TensorFlow", _saved_model),
    "tflite": ("LiteRT", _tflite),
    "onnx": ("ONNX Runtime", _onnx),
}


# --- The zip a user downloads ------------------------------------------------------------------------------


def package(export: ExportedFile, folder: Path, *, version: str, class_names: list[str], image_size: int) -> Path:
    """The download `export.path` as a zip with labels.txt and README.md; returns the zip's path."""
    target = folder / f"{export.kind}.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        model = export.path
        files = sorted(model.rglob("*")) if model.is_dir() else [model]
        for file in files:
            if file.is_file():
                archive.write(file, file.relative_to(model.parent).as_posix())
        archive.writestr("labels.txt", "".join(f"{name}\n" for name in class_names))
        archive.writestr("README.md", readme(export, version=version, class_names=class_names, image_size=image_size))
    return target


_LOAD_AND_RUN = {
    "keras": (
        'import keras\nmodel = keras.saving.load_model("model.keras")',
        'probabilities = np.asarray(model(pixels[np.newaxis])["probabilities"])[0]',
    ),
    "savedmodel": (
        'import tensorflow as tf\nmodel = tf.saved_model.load("saved_model").signatures["serving_default"]',
        'probabilities = model(image=tf.constant(pixels[np.newaxis]))["probabilities"].numpy()[0]',
    ),
    "tflite": (
        "from ai_edge_litert.interpreter import Interpreter\n"
        'model = Interpreter(model_path="model.tflite").get_signature_runner()',
        'probabilities = model(image=pixels[np.newaxis])["probabilities"][0]',
    ),
    "onnx": (
        'import onnxruntime\nmodel = onnxruntime.InferenceSession("model.onnx")',
        'probabilities = model.run(["probabilities"], {"image": pixels[np.newaxis]})[0][0]',
    ),
}

_README = """# {version}: {title}

A catdog model version, exported with its preprocessing inside.

- Input `image`: RGB images of any size as uint8, shape (batch, height, width, 3). The model resizes them to
  {size}x{size} (bilinear) and rescales the pixel values itself.
- Output `probabilities`: shape (batch, {count}), one probability per class, in the order of labels.txt:
  {classes}.
- Checked when it was exported: {figure}

## Answering one photo exactly as the server does

The server decodes a photo with Pillow straight to {size}x{size} (a JPEG at a reduced scale, then a bilinear
resize) and gives the model that array. Give the model the same array and its own resize changes nothing (a
bilinear resize to the same size samples every pixel at its own centre): the answer is the server's.

```python
import numpy as np
from PIL import Image, ImageOps

image = Image.open("photo.jpg")
image.draft("RGB", ({draft}, {draft}))  # a JPEG decodes at a reduced scale, as on the server
image = ImageOps.exif_transpose(image).convert("RGB")
pixels = np.asarray(image.resize(({size}, {size}), Image.Resampling.BILINEAR, reducing_gap=3.0))
{load}
{run}
labels = open("labels.txt").read().splitlines()
print(labels[int(probabilities.argmax())], dict(zip(labels, probabilities.round(4).tolist())))
```

Any other image works too (`model` takes any size); resized by Pillow or by the model, a photo then gets an
answer within a small difference of the server's, not exactly it.
"""

_TITLES = {"keras": "Keras (.keras)", "savedmodel": "TensorFlow SavedModel", "tflite": "TFLite", "onnx": "ONNX"}


def readme(export: ExportedFile, *, version: str, class_names: list[str], image_size: int) -> str:
    load, run = _LOAD_AND_RUN[export.kind]
    figure = (
        f"on {export.photos_checked:,} of the version's test photos decoded as below, its probabilities were "
        f"within {export.max_difference:.1e} of the server's, with the same top class on every photo "
        f"({_RUNTIMES[export.kind][0]}); at their own size, {min(OWN_SIZE_PHOTOS, export.photos_checked)} of them "
        "gave Keras's answer as closely."
    )
    return _README.format(
        version=version,
        title=_TITLES[export.kind],
        size=image_size,
        draft=2 * image_size,
        count=len(class_names),
        classes=", ".join(class_names),
        figure=figure,
        load=load,
        run=run,
    )
