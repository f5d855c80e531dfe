"""What exporting a MobileNetV2 version costs, file by file, and how closely each file answers as Keras does.

    .venv/bin/python bench/bench_export.py [--photos 1000] [--model trainer/shipped/catdog.keras]

Converts the model to each serving file and each download (trainer/ml/export.py, trainer/ml/downloads.py), timing
each conversion, then verifies them on the first --photos test photos of ../shared/data/catsdogs/test, timing the
verification of the serving files (what a training adds) and of the downloads (what the admin's button costs).
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT.parent / "shared" / "data" / "catsdogs" / "test"
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "catdog_site.settings.local")


def timed(what: str, seconds: dict, call, *args):
    start = time.perf_counter()
    result = call(*args)
    seconds[what] = time.perf_counter() - start
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, default=1000)
    parser.add_argument("--model", type=Path, default=ROOT / "trainer" / "shipped" / "catdog.keras")
    options = parser.parse_args()

    import django

    django.setup()
    import keras

    from trainer.ml import downloads, export
    from trainer.ml.heatmaps import save_head
    from trainer.ml.serving import head_layers, pixels_function, serving_model

    photos = sorted(PHOTOS.rglob("*.jpg"))
    photos = [photos[i] for i in range(0, len(photos), max(1, len(photos) // options.photos))][: options.photos]
    seconds: dict[str, float] = {}
    model = timed("loading the .keras", seconds, lambda: keras.saving.load_model(options.model, compile=False))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        served = serving_model(model)
        serve = pixels_function(served)
        files = {
            "serving_onnx": timed("serving_onnx", seconds, export.write_onnx, serve, folder / "s.onnx"),
            "serving_tflite": timed("serving_tflite", seconds, export.write_tflite, served, serve, folder / "s.tflite"),
            "serving_head": folder / "head.npz",
        }
        timed("serving_head", seconds, save_head, head_layers(model), files["serving_head"])
        checked = timed("verifying the serving files", seconds, export.verify, model, photos, files)

        download = downloads.download_model(model)
        function = downloads.image_function(download)
        paths = {kind: folder / name for kind, name in downloads.DOWNLOADS.items()}
        timed("keras", seconds, download.save, paths["keras"])
        timed("savedmodel", seconds, export.write_saved_model, download, function, paths["savedmodel"])
        timed("tflite", seconds, export.tflite_from_saved_model, paths["savedmodel"], paths["tflite"])
        timed("onnx", seconds, export.write_onnx, function, paths["onnx"])
        checked += timed("verifying the downloads", seconds, downloads.verify, model, photos, paths)

    print(f"{options.model.name}, {len(photos)} test photos, {os.cpu_count()} cores")
    print("| step | seconds |\n| --- | --- |")
    for what, value in seconds.items():
        print(f"| {what} | {value:.1f} |")
    print("\n| file | photos | largest difference from Keras | top-1 disagreements | verdict |")
    print("| --- | --- | --- | --- | --- |")
    for export_ in checked:
        verdict = "verified" if export_.passed else f"FAILED: {export_.error}"
        print(
            f"| {export_.kind} | {export_.photos_checked} | {export_.max_difference:.1e} | "
            f"{export_.top1_disagreements} | {verdict} |"
        )


if __name__ == "__main__":
    main()
