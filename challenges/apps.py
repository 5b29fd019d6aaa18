from django.apps import AppConfig


class ChallengesConfig(AppConfig):
    name = "challenges"
    verbose_name = "揭榜挂帅"

    def ready(self) -> None:
        # Invitations and bids awaiting an answer count on the responsiveness record that matching
        # keeps (matching may not import challenges, so challenges registers its rows).
        from challenges.selectors import answer_rows
        from matching.catalogue.responsiveness import register_answer_source

        register_answer_source(answer_rows)
