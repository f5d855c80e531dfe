from django.apps import AppConfig


class TrainerConfig(AppConfig):
    name = "trainer"
    verbose_name = "Training"

    def ready(self):
        # Registers the tasks, which the actions send by name, and connects their worker signals.
        from . import tasks  # noqa: F401
