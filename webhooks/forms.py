from django import forms

from .actions import WebhookRefused, check_webhook_url
from .models import Webhook


class WebhookForm(forms.Form):
    url = forms.URLField(
        label="URL",
        max_length=Webhook._meta.get_field("url").max_length,
        assume_scheme="https",
        help_text="Where catdog POSTs when a prediction of yours is answered or fails: a public http or https address.",
    )

    def clean_url(self):
        url = self.cleaned_data["url"]
        try:
            check_webhook_url(url)
        except WebhookRefused as error:
            raise forms.ValidationError(str(error)) from None
        return url
