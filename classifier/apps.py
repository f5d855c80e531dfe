from django.apps import AppConfig


class ClassifierConfig(AppConfig):
    name = "classifier"
    verbose_name = "Predictions"

    def ready(self):
        # Registers the tasks with Celery in every process, the web's included: actions send them by name
        # (classifier.actions.PREDICT_IMAGE), so that tasks may import actions without a cycle.
        from . import tasks  # noqa: F401
