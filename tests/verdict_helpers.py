"""What the verdict tests share: a calibration report as trainer/ml/verdicts.py `measure()` writes it."""

CALIBRATION_REPORT = {
    "method": "Distance of the photo's backbone features to each class's training features, with a threshold "
    "per operating point set on held-out training photos; a margin between the two likeliest classes for "
    "“can't tell”.",
    "operating_points": {
        "strict": {"kept": 0.912, "unsure": 0.041, "other": 0.047, "accuracy": 0.998, "outliers_other": 0.991},
        "balanced": {"kept": 0.951, "unsure": 0.03, "other": 0.019, "accuracy": 0.996, "outliers_other": 0.972},
        "lenient": {"kept": 0.973, "unsure": 0.02, "other": 0.007, "accuracy": 0.993, "outliers_other": 0.95},
    },
    "held_out": 400,
    "outliers": 595,
}
