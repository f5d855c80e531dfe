from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from trainer.models import Dataset

from .validation import CheckedImage, check_image_upload


def too_many_files_message() -> str:
    return f"Upload at most {settings.CATDOG_MAX_FILES_PER_UPLOAD} photos at once."


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleImageField(forms.FileField):
    """Several photos in one field; each is checked by content (see classifier/validation.py)."""

    widget = MultipleFileInput(attrs={"accept": "image/jpeg,image/png,image/webp,image/bmp,image/gif"})

    def clean(self, data, initial=None):
        files = [f for f in (data if isinstance(data, (list, tuple)) else [data]) if f]
        if not files:
            raise ValidationError(self.error_messages["required"], code="required")
        if len(files) > settings.CATDOG_MAX_FILES_PER_UPLOAD:
            raise ValidationError(too_many_files_message(), code="too_many_files")
        checked, errors = [], []
        for f in files:
            try:
                checked.append(check_image_upload(f))
            except ValidationError as error:
                errors.extend(error.error_list)
        if errors:
            # All or nothing: a batch with one bad photo stores none, and says which and why.
            raise ValidationError(errors)
        return checked


class UploadForm(forms.Form):
    images = MultipleImageField(
        label="Photos",
        help_text="JPEG, PNG, WebP, BMP or GIF; several at once if you like.",
        error_messages={"required": "Choose at least one photo."},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The browser refuses to send more (static/js/upload.js); the server checks again.
        self.fields["images"].widget.attrs["data-max-files"] = settings.CATDOG_MAX_FILES_PER_UPLOAD

    @classmethod
    def refusing_too_many_files(cls) -> "UploadForm":
        """A form showing the too-many-photos error, for a request whose files the parser refused."""
        form = cls(data={}, files={})
        form.full_clean()
        form.errors["images"] = form.error_class([too_many_files_message()])
        return form

    def checked_images(self) -> list[CheckedImage]:
        return self.cleaned_data["images"]


class _DatasetChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, dataset):
        return f"{dataset} ({', '.join(dataset.class_names)})"


class DeriveVersionForm(forms.Form):
    """The review queue's "New version from the review queue": a ready dataset to add the accepted photos to
    (those of its classes), and the new version's name (else "<first dataset's name> v<n>")."""

    parent = _DatasetChoiceField(
        label="Dataset",
        queryset=Dataset.objects.none(),
        empty_label=None,
        help_text="A ready dataset; the new version is it plus the accepted photos of its classes.",
    )
    name = forms.CharField(
        label="Name of the new version", max_length=200, required=False, help_text="Optional: say, “pets v2”."
    )

    def __init__(self, *args, labels: set[str] = frozenset(), **kwargs):
        super().__init__(*args, **kwargs)
        ready = Dataset.objects.filter(status=Dataset.Status.READY).order_by("name")
        # Offered: the datasets sharing a class with the accepted photos (all ready ones if none is accepted).
        matching = [dataset.pk for dataset in ready if not labels or labels & set(dataset.class_names)]
        self.fields["parent"].queryset = ready.filter(pk__in=matching)

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if name and Dataset.objects.filter(name=name).exists():
            raise ValidationError(f"A dataset is already named “{name}”: choose another name, or leave it empty.")
        return name
