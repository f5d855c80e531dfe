import datetime

from django import forms
from django.contrib.auth.forms import PasswordChangeForm, UserCreationForm
from django.utils import timezone

from .models import ApiKey, Profile


class FocusFirstProblem:
    """A form shown again with errors puts the cursor in the first field in error, not back in the first field."""

    def full_clean(self):
        super().full_clean()
        in_error = [name for name in self.fields if name in self.errors]
        if in_error:
            for field in self.fields.values():
                field.widget.attrs.pop("autofocus", None)
            self.fields[in_error[0]].widget.attrs["autofocus"] = True


class EveryPasswordProblem:
    """Django checks the new password's strength on the confirmation field, which a mismatch has already
    emptied: "123" and "124" would be refused for the mismatch only. The first field is checked instead, so
    every problem is reported at once."""

    checked_field: str

    def validate_password_for_user(self, user, *args, **kwargs):
        super().validate_password_for_user(user, self.checked_field)


class SignUpForm(FocusFirstProblem, EveryPasswordProblem, UserCreationForm):
    checked_field = "password1"

    class Meta(UserCreationForm.Meta):
        fields = ("username",)


class ChangePasswordForm(FocusFirstProblem, EveryPasswordProblem, PasswordChangeForm):
    checked_field = "new_password1"


class CorrectionsConsentForm(forms.Form):
    corrections_may_be_used = forms.BooleanField(
        label=Profile._meta.get_field("corrections_may_be_used").verbose_name, required=False
    )


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        max_length=ApiKey._meta.get_field("name").max_length,
        help_text="What the key is for, say the script that uses it.",
    )
    expires_on = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Optional: the key stops working at the start of this day (UTC). Empty: until you revoke it.",
    )

    def clean_expires_on(self):
        expires_on = self.cleaned_data["expires_on"]
        if expires_on is not None and expires_on <= timezone.now().date():
            raise forms.ValidationError("Choose a day after today, or leave it empty for a key that does not expire.")
        return expires_on

    @property
    def expires_at(self):
        expires_on = self.cleaned_data["expires_on"]
        if expires_on is None:
            return None
        return datetime.datetime.combine(expires_on, datetime.time.min, tzinfo=datetime.UTC)


class DeleteAccountForm(forms.Form):
    """Deleting an account asks for its password: a session left open on a shared computer is not enough."""

    password = forms.CharField(
        label="Your password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["password"].error_messages["required"] = "Enter your password to delete your account."

    def clean_password(self):
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("That is not your password: nothing was deleted.", code="password_incorrect")
        return password
