from celery import shared_task


@shared_task(acks_late=True, name="core.ping")
def ping(value: str = "pong") -> str:
    """Echo a value; used to check that a worker consumes from the broker."""
    return value
