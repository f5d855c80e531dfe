"""The admin's forms: a dataset's name and source, and a training's settings, each with its default (no
TensorFlow)."""

import uuid
import zipfile

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from .actions import frozen_split_refusal
from .datasets import DatasetRefused, check_server_folder, parse_url_list
from .ml import (
    ARCHITECTURE_DEFAULTS,
    AUGMENTATIONS,
    DEFAULT_BATCH_SIZE,
    DEFAULT_SEED,
    DEFAULT_TEST_SPLIT,
    MOBILENET_V2,
    SIMPLE_CNN,
)
from .ml.weights import WeightsUnavailable, check_weights
from .models import Dataset, ModelVersion

AUGMENTATION_LABELS = {
    "none": "None",
    "light": "Light: mirror left to right",
    "strong": "Strong: move, turn, zoom, shear, mirror and add noise",
}
assert set(AUGMENTATION_LABELS) == set(AUGMENTATIONS)


_URL_CSV_MAX_BYTES = 5 * 1024 * 1024

# Read on a lineage's root dataset; the versions trained in the lineage are compared on its frozen test split.
AUTO_PROMOTE_HELP = (
    "Activates a version trained in this lineage when it is significantly better than the active version on the "
    "lineage's frozen test split. Off by default."
)


class AutoPromoteForm(forms.Form):
    """Automatic promotion for a lineage, on its root dataset's page."""

    auto_promote = forms.BooleanField(
        required=False,
        label="Promote automatically",
        help_text=AUTO_PROMOTE_HELP,
        # Shown inside the admin's own form on the dataset page, it belongs to this small one by its id.
        widget=forms.CheckboxInput(attrs={"form": "dataset-auto-promote-form"}),
    )


class DatasetAddForm(forms.ModelForm):
    """A name and exactly one source: a zip upload, a folder on the server, or image URLs with their class."""

    archive = forms.FileField(
        required=False,
        label="Zip archive",
        help_text="One folder per class (cat/1.jpg, dog/2.jpg), or Kaggle-style files named like cat.0.jpg.",
    )
    folder = forms.CharField(
        required=False,
        max_length=500,
        label="Folder on the server",
        help_text="An absolute path, laid out like the archive.",
    )
    url_lines = forms.CharField(
        required=False,
        label="Image URLs",
        widget=forms.Textarea(attrs={"rows": 8, "cols": 80, "placeholder": "https://example.com/cat1.jpg,cat"}),
        help_text="One image a line: its URL and its class, separated by a comma or a space.",
    )
    url_csv = forms.FileField(required=False, label="…or a CSV file", help_text="Rows of url,label.")

    class Meta:
        model = Dataset
        fields = ["name", "auto_promote"]  # the admin leaves auto_promote out for who may not activate versions
        help_texts = {"auto_promote": AUTO_PROMOTE_HELP}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The limits the check applies, stated where the admin chooses what to send.
        self.fields["archive"].help_text += f" Up to {filesizeformat(settings.CATDOG_DATASET_MAX_ZIP_BYTES)}."
        roots = ", ".join(settings.CATDOG_DATASET_FOLDER_ROOTS) or "none (CATDOG_DATASET_FOLDER_ROOTS)"
        self.fields["folder"].help_text += f" Folders under: {roots}."
        self.fields["url_lines"].help_text += f" Up to {settings.CATDOG_DATASET_MAX_URLS} URLs."

    def clean_archive(self):
        archive = self.cleaned_data["archive"]
        if archive is None:
            return None
        limit = settings.CATDOG_DATASET_MAX_ZIP_BYTES
        if archive.size > limit:
            raise forms.ValidationError(
                f"The archive is {filesizeformat(archive.size)}; the limit is {filesizeformat(limit)}."
            )
        if not zipfile.is_zipfile(archive):
            raise forms.ValidationError("This file is not a zip archive.")
        archive.seek(0)
        return archive

    def clean_folder(self):
        folder = self.cleaned_data["folder"].strip()
        if folder:
            try:
                check_server_folder(folder)
            except DatasetRefused as refusal:
                raise forms.ValidationError(str(refusal)) from None
        return folder

    def clean_url_csv(self):
        csv_file = self.cleaned_data["url_csv"]
        if csv_file is None:
            return ""
        if csv_file.size > _URL_CSV_MAX_BYTES:
            raise forms.ValidationError(f"The CSV file is larger than {filesizeformat(_URL_CSV_MAX_BYTES)}.")
        try:
            return csv_file.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise forms.ValidationError("The CSV file is not UTF-8 text.") from None

    def clean(self):
        cleaned = super().clean()
        # Which sources were filled in, valid or not: one error for "two sources", not one per field.
        filled = {
            Dataset.Source.ZIP: bool(self["archive"].data),
            Dataset.Source.FOLDER: bool((self["folder"].data or "").strip()),
            Dataset.Source.URLS: bool((self["url_lines"].data or "").strip() or self["url_csv"].data),
        }
        given = [source for source, present in filled.items() if present]
        if len(given) != 1:
            raise forms.ValidationError("Give exactly one source: a zip archive, a folder on the server, or URLs.")
        self.instance.source = given[0]
        self.instance.path = cleaned.get("folder") or ""
        if given[0] == Dataset.Source.URLS:
            self.instance.urls = self._url_pairs(cleaned)
        return cleaned

    def _url_pairs(self, cleaned) -> list[list[str]]:
        pairs = []
        for field in ("url_lines", "url_csv"):  # each on its own, so that line numbers mean that field's lines
            if cleaned.get(field):
                try:
                    pairs += parse_url_list(cleaned[field])
                except ValueError as error:
                    self.add_error(field, str(error))
        if len(pairs) > settings.CATDOG_DATASET_MAX_URLS:
            self.add_error(None, f"{len(pairs)} URLs were given; the limit is {settings.CATDOG_DATASET_MAX_URLS}.")
        return [list(pair) for pair in pairs]


def _defaults_help(setting: str, describe=str) -> str:
    return "Empty: " + "; ".join(
        f"{describe(defaults[setting])} for {arch}" for arch, defaults in ARCHITECTURE_DEFAULTS.items()
    )


class TrainingForm(forms.Form):
    """Every setting has a default; the empty ones take their architecture's (trainer/ml/__init__.py)."""

    name = forms.CharField(max_length=200, required=False, help_text="Empty: the dataset, architecture and time.")
    architecture = forms.ChoiceField(
        choices=ModelVersion.Architecture.choices,
        initial=MOBILENET_V2,
        help_text="MobileNetV2 learns from a few hundred photos in minutes; a simple CNN needs far more of both.",
    )
    image_size = forms.IntegerField(
        required=False, min_value=32, max_value=512, help_text=_defaults_help("image_size", lambda v: f"{v}×{v}")
    )
    epochs = forms.IntegerField(required=False, min_value=1, max_value=500, help_text=_defaults_help("epochs"))
    batch_size = forms.IntegerField(initial=DEFAULT_BATCH_SIZE, min_value=1, max_value=512)
    learning_rate = forms.FloatField(
        required=False, min_value=1e-6, max_value=1.0, help_text=_defaults_help("learning_rate")
    )
    augmentation = forms.ChoiceField(
        choices=[("", "The architecture's default"), *AUGMENTATION_LABELS.items()],
        required=False,
        label="Augmentation strength",
        help_text=_defaults_help("augmentation", lambda v: AUGMENTATION_LABELS[v].split(":")[0].lower()),
    )
    test_dataset = forms.ModelChoiceField(
        queryset=Dataset.objects.none(),
        required=False,
        help_text="Measure on this dataset (same classes). Empty: hold out the test split of this dataset.",
    )
    outlier_dataset = forms.ModelChoiceField(
        queryset=Dataset.objects.none(),
        required=False,
        label="Photos of none of these classes",
        help_text="Optional: a dataset of photos that show none of this dataset's classes (its own classes do not "
        "matter). The version page then states how many of them the model answers \u201cnone of these\u201d.",
    )
    test_split = forms.FloatField(
        initial=DEFAULT_TEST_SPLIT,
        min_value=0.05,
        max_value=0.5,
        help_text="Share of each class held out for testing, when no test dataset is chosen.",
    )
    seed = forms.IntegerField(
        initial=DEFAULT_SEED, min_value=0, max_value=2**31 - 1, help_text="The same seed gives the same split."
    )
    # One per form shown: posting the same form twice finds the version the first post made.
    request_key = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)

    def __init__(self, *args, dataset: Dataset, **kwargs):
        super().__init__(*args, **kwargs)
        self.dataset = dataset
        self.mobilenet_problem = _mobilenet_problem()
        if self.mobilenet_problem:  # never offer by default what cannot work here
            self.fields["architecture"].initial = SIMPLE_CNN
            self.fields["architecture"].help_text += f" MobileNetV2 cannot train here: {self.mobilenet_problem}"
        others = Dataset.objects.filter(status=Dataset.Status.READY).exclude(pk=dataset.pk)
        self.fields["test_dataset"].queryset = others
        self.fields["outlier_dataset"].queryset = others
        self.frozen_split = dataset.has_frozen_split
        if self.frozen_split:  # measured on the lineage's frozen test split: no share to hold out, no other test set
            del self.fields["test_split"]
            self.fields["test_dataset"].help_text = (
                "Leave empty: a dataset version is measured on its lineage's frozen test split, like every "
                "version trained in the lineage."
            )
            self.fields["seed"].help_text = "The same seed gives the same training; the test photos stay the same."

    def clean_architecture(self):
        architecture = self.cleaned_data["architecture"]
        if architecture == MOBILENET_V2 and self.mobilenet_problem:
            raise forms.ValidationError(self.mobilenet_problem)
        return architecture

    def clean(self):
        cleaned = super().clean()
        test_dataset = cleaned.get("test_dataset")
        if test_dataset is not None and self.frozen_split:
            self.add_error("test_dataset", frozen_split_refusal(self.dataset))
        elif test_dataset is not None and test_dataset.class_names != self.dataset.class_names:
            self.add_error(
                "test_dataset",
                f"Its classes {', '.join(test_dataset.class_names)} are not this dataset's "
                f"({', '.join(self.dataset.class_names)}).",
            )
        elif test_dataset is None and "test_split" in cleaned:
            counts = (self.dataset.report or {}).get("counts", {})
            small = sorted(label for label, count in counts.items() if count < 2)
            if small:
                self.add_error(
                    None,
                    f"{', '.join(small)}: fewer than 2 images, so none can be held out for testing. "
                    "Add images or choose a test dataset.",
                )
        if cleaned.get("outlier_dataset") is not None and cleaned["outlier_dataset"] == test_dataset:
            self.add_error(
                "outlier_dataset", "That is the test dataset, which shows these classes: choose other photos."
            )
        return cleaned

    def params(self) -> dict:
        """The settings with every default resolved, as the version records them."""
        cleaned = self.cleaned_data
        architecture = cleaned["architecture"]
        defaults = ARCHITECTURE_DEFAULTS[architecture]

        def chosen(setting):
            value = cleaned.get(setting)
            return defaults[setting] if value in (None, "") else value

        return {
            "architecture": architecture,
            "image_size": chosen("image_size"),
            "epochs": chosen("epochs"),
            "batch_size": cleaned["batch_size"],
            "learning_rate": chosen("learning_rate"),
            "augmentation": chosen("augmentation"),
            "dropout": defaults["dropout"],
            "test_split": None if cleaned.get("test_dataset") or self.frozen_split else cleaned["test_split"],
            "seed": cleaned["seed"],
        }

    def version_name(self) -> str:
        return self.cleaned_data["name"] or (
            f"{self.dataset.name}-{self.cleaned_data['architecture']}-{timezone.localtime():%Y%m%d-%H%M}"
        )


def _mobilenet_problem() -> str:
    """Why MobileNetV2 cannot get its weights on this install, or "" (web and workers share the set-up)."""
    try:
        check_weights(settings.CATDOG_MOBILENET_WEIGHTS)
    except WeightsUnavailable as problem:
        return str(problem)
    return ""


class MeasurementForm(forms.Form):
    """The test set a version and the active one are both measured on when they share no test photos."""

    dataset = forms.ModelChoiceField(
        queryset=Dataset.objects.none(),
        label="Test set",
        empty_label="Choose a ready dataset with the same classes",
        help_text="Both versions answer each of its photos; neither may have been trained on any of them.",
    )

    def __init__(self, *args, version: ModelVersion, **kwargs):
        super().__init__(*args, **kwargs)
        ready = Dataset.objects.filter(status=Dataset.Status.READY).order_by("name")
        classes = sorted(version.class_names)
        self.fields["dataset"].queryset = ready.filter(
            pk__in=[dataset.pk for dataset in ready.only("pk", "class_names") if sorted(dataset.class_names) == classes]
        )
