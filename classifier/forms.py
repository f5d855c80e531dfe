from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from trainer.models import Dataset

from .models import Prediction
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


# How the history may be ordered (`sort`): the first is the default, left out of its links.
HISTORY_SORTS = {"newest": "Newest first", "oldest": "Oldest first", "confidence": "Most confident first"}


# A day picker; a bound form shows the value as sent, so a refused one stays there to be corrected.
_DAY = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class HistoryFilterForm(forms.Form):
    """The history's status, date range and order, from its URL (the page, its CSV export, its poll).
    Dates are whole days in the site's time zone, both included."""

    status = forms.ChoiceField(choices=[("", "Any status"), *Prediction.Status.choices], required=False)
    since = forms.DateField(required=False, input_formats=["%Y-%m-%d"], label="From", widget=_DAY)
    until = forms.DateField(required=False, input_formats=["%Y-%m-%d"], label="To", widget=_DAY)
    sort = forms.ChoiceField(choices=list(HISTORY_SORTS.items()), required=False)

    def __init__(self, data, **kwargs):
        super().__init__(data, **kwargs)
        for name in ("since", "until"):
            self.fields[name].error_messages["invalid"] = f"“{self.fields[name].label}” must be a date: YYYY-MM-DD."
        self.fields["status"].error_messages["invalid_choice"] = "Status must be pending, done or failed."
        self.fields["sort"].error_messages["invalid_choice"] = "Sort by newest, oldest or confidence."

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            raise ValidationError("“From” must not be after “To”.", code="reversed_dates")
        return cleaned

    def query(self) -> dict[str, str]:
        """The valid, non-default values, as they go into links (the page's, the next page's, the export's)."""
        if not self.is_valid():
            return {}
        cleaned = self.cleaned_data
        values = {name: str(cleaned[name]) for name in ("status", "since", "until") if cleaned[name]}
        if cleaned["sort"] not in ("", "newest"):
            values["sort"] = cleaned["sort"]
        return values


# At most this many photos in one bulk deletion: a history page holds 24.
BULK_DELETE_MAX = 100


class IdListField(forms.Field):
    """Prediction ids, each a positive whole number, at most BULK_DELETE_MAX of them."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        values = [str(item).strip() for item in value or [] if str(item).strip()]
        if not all(item.isdigit() and int(item) > 0 for item in values):
            raise ValidationError("A selected photo is not one of yours: reload the page and select again.")
        if len(values) > BULK_DELETE_MAX:
            raise ValidationError(f"Delete at most {BULK_DELETE_MAX} photos at once.")
        return sorted({int(item) for item in values})


class BulkDeleteForm(forms.Form):
    """The photos chosen on a history page to delete (`ids`); `confirmed` once their owner has seen the list."""

    ids = IdListField(error_messages={"required": "Select the photos to delete."})
    confirmed = forms.BooleanField(required=False)
