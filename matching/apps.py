from django.apps import AppConfig


class MatchingConfig(AppConfig):
    name = "matching"
    verbose_name = "需求、成果与匹配"

    def ready(self) -> None:
        # The catalogue's quality check asks the matcher how it reads a text; the catalogue may
        # not import the matcher, so the matcher's reader is plugged in here.
        from matching.catalogue.quality import register_text_reader
        from matching.matcher.readiness import text_view

        register_text_reader(text_view)

        # The responsiveness record on organization pages and in the API (accounts renders it).
        from accounts.extensions import register_organization_fact
        from matching.catalogue.responsiveness import organization_responsiveness

        register_organization_fact(
            "responsiveness",
            lambda org: organization_responsiveness(organization_id=org.pk),
        )

        # /healthz shows how far a rebuild of the matcher's index has got.
        from core.health import register_status
        from matching.matcher.reindex import progress_counts

        register_status("reindex", progress_counts)
