"""The machine-learning side of catdog: decoding (images), data, model, training and evaluation.

Only `images`, `data` and `evaluate` are free of TensorFlow; import `model` and `train` inside the
worker or a management command's handle(), never at import time of anything the web process loads.
"""

# How much a training photo is randomly changed; see model.make_augmentation. Here, not in model.py,
# so that the train_model command can offer the choices without importing TensorFlow.
AUGMENTATIONS = ("none", "flip", "full")
