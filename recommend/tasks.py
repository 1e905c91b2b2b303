from celery import shared_task

from core.errors import Conflict
from recommend import services


@shared_task
def model_train_task(version_id: int | None = None) -> None:
    """Train a model version (nightly through beat with no id: a new version is requested first).

    Safe to run twice: model_train leaves a version that has started alone.
    """
    if version_id is None:
        try:
            services.model_train_request()  # dispatches this task again, with the new id, after commit
        except Conflict:
            return
        return
    services.model_train(version_id=version_id)
