"""The machine-learning side of catdog: data, model, training and evaluation (decoding: trainer/images.py).

Only `data`, `evaluate` and `weights` are free of TensorFlow; import `model` and `train` inside the
worker or a management command's handle(), never at import time of anything the web process loads.
"""

# How much a training photo is randomly changed; see model.make_augmentation. Here, not in model.py,
# so that the train_model command can offer the choices without importing TensorFlow.
AUGMENTATIONS = ("none", "light", "strong")
# The words versions trained before migration 0004 stored (it renames them; a sidecar or a setting read
# from elsewhere may still carry them): the same levels as "light" and "strong".
FORMER_AUGMENTATIONS = {"flip": "light", "full": "strong"}

# What an unset (None) setting of train.TrainingConfig becomes, per architecture. Here, not in
# train.py, so that the admin's training form can show them without importing TensorFlow.
# For mobilenet_v2, chosen by 5-fold cross-validation of the head on the 2,000 training photos of
# cats and dogs, not on the test photos: 224x224, the resolution the ImageNet weights were trained
# at, scored 98.45% where 192x192 scored 98.0%; no augmentation beat flipped or fully augmented
# copies of the features (98.2%), since the frozen ImageNet features already ignore what augmentation
# varies; dropout 0.5 beat 0.2 and 20 epochs beat 5 and 10. 224x224 also serves a photo within 20 ms
# on two cores (see classifier/inference.py). A network learning from scratch needs augmentation, so
# simple_cnn augments fully; at 96x96 an epoch of 1,600 photos takes about 35 s on two cores (75 s at
# 128x128), and it learns slowly: 64% on cats and dogs after 15 epochs, where MobileNetV2 reaches 98.9%.
# Fine-tuning MobileNetV2's last block with its head, on the photos and their mirrors, scored 98.5% in the
# same cross-validation against 98.2% for the head (bench/sharper_cv.py), but 99.0% on the test photos
# against 98.9%, and its features told "none of these" worse (README, "Training your own"): off by default.
# Larger inputs also scored better in that cross-validation (98.70% at 256, 98.90% at 288 and at 320), but
# the head trained at 288 scored 98.8% on the test photos against 98.6% at 224 trained the same day, for
# 1.65x the arithmetic a photo: 224 stays (README, "Larger photos").
MOBILENET_V2 = "mobilenet_v2"
SIMPLE_CNN = "simple_cnn"
# The one list of architectures: ModelVersion.Architecture gives them their labels, model.make_model builds them.
ARCHITECTURES = (MOBILENET_V2, SIMPLE_CNN)
ARCHITECTURE_DEFAULTS = {
    MOBILENET_V2: {
        "image_size": 224,
        "epochs": 20,
        "learning_rate": 1e-3,
        "dropout": 0.5,
        "augmentation": "none",
        "mirror": False,
        "fine_tune_epochs": 0,
        "fine_tune_learning_rate": 1e-4,
    },
    SIMPLE_CNN: {"image_size": 96, "epochs": 30, "learning_rate": 1e-3, "dropout": 0.3, "augmentation": "strong"},
}
# The settings only MobileNetV2's feature-caching path reads, and what they are for any other architecture
# (train.py with_defaults sets them so, and the version's recorded settings leave them out, with `weights`).
MOBILENET_V2_ONLY = {"augment_copies": 0, "mirror": False, "fine_tune_epochs": 0, "fine_tune_learning_rate": None}
DEFAULT_BATCH_SIZE = 32
DEFAULT_TEST_SPLIT = 0.2
DEFAULT_SEED = 1337
# The settings of train.TrainingConfig a person chooses (the admin's training form, the train_model command);
# its others are the run's own: the folders, the output, the architecture and the worker's weights.
TUNABLE_SETTINGS = (
    "epochs",
    "image_size",
    "batch_size",
    "learning_rate",
    "test_split",
    "seed",
    "dropout",
    "augmentation",
    "augment_copies",
    "mirror",
    "fine_tune_epochs",
    "fine_tune_learning_rate",
)

# The files made from a version's .keras (trainer/ml/export.py): ModelExport kind -> the end of the file's name.
# The serving files are what prediction workers load; here, not in export.py, so that storing them needs no
# TensorFlow.
SERVING_FILES = {"serving_onnx": "serving.onnx", "serving_tflite": "serving.tflite", "serving_head": "head.npz"}

# The two answers beside a class name that a calibrated version gives (trainer/ml/verdicts.py): "unsure",
# the photo shows one of its classes but it cannot tell which; "other", the photo shows none of them. No
# class may bear either name.
UNSURE = "unsure"
OTHER = "other"
VERDICT_WORDS = (UNSURE, OTHER)
# How cautious a calibrated version is, chosen per version by an administrator without retraining: the
# share of held-out photos of its own classes that the "none of these" rule keeps. "balanced" is the default.
OPERATING_POINTS = {"strict": 0.98, "balanced": 0.99, "lenient": 0.995}
DEFAULT_OPERATING_POINT = "balanced"
