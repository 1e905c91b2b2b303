from celery import shared_task


@shared_task(name="shops.tasks.rating_scores_refresh_task")
def rating_scores_refresh_task() -> int:
    """Beat sweep: every 红黑榜 score recomputed set-based (sales evidence moves weights between ratings)."""
    from shops.ratings import refresh_weights_and_scores

    return refresh_weights_and_scores()
