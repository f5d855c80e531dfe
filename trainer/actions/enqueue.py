from celery import current_app


def enqueue(task_name: str, object_id: int) -> None:
    """Send the task `task_name` of trainer/tasks.py for one row; call it after the row is committed.

    By name, because the tasks call these actions: the actions do not import them. The task is found in
    Celery's registry, as classifier's actions find theirs: the one registered in this process
    (trainer/apps.py imports the tasks), so it runs eagerly where Celery is set to. CELERY_TASK_ROUTES
    alone chooses its queue.
    """
    current_app.tasks[f"trainer.tasks.{task_name}"].delay(object_id)
