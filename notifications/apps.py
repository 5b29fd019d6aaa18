from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "通知与邮件"

    def ready(self) -> None:
        # New matches are announced by email: the matcher calls this in the transaction that
        # stores them (so an email exists exactly when its match does).
        from matching.matcher.pipeline import subscribe_new_matches
        from notifications.services import match_notifications_create

        subscribe_new_matches(match_notifications_create)

        # Declined access requests (with their coded reason), reminders before the answer
        # deadline and missed deadlines are emailed to the side that has to know.
        from matching.catalogue.answers import subscribe_answer_events
        from notifications.answers import access_answer_notify

        subscribe_answer_events(access_answer_notify)

        # Needs and results about to expire remind their organization (with the renewal link);
        # expired ones tell it they left matching and public lists.
        from matching.catalogue.freshness import subscribe_expiry_events
        from notifications.freshness import listing_expiry_notify

        subscribe_expiry_events(listing_expiry_notify)
