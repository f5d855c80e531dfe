from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"

    def ready(self):
        from classifier.signals import prediction_ended

        # The task registered in every process, as classifier's are: actions send it by name.
        from . import tasks  # noqa: F401
        from .actions import on_prediction_ended

        prediction_ended.connect(on_prediction_ended, dispatch_uid="webhooks.on_prediction_ended")
