from django.apps import AppConfig


class IngestionConfig(AppConfig):
    name = "ingestion"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from ingestion import checks  # noqa: F401 - registers the system checks

    def readiness_checks(self) -> dict[str, str]:
        """Answer /readyz: is a collector feeding the table, is there a partition for now."""
        from ingestion.health import readiness_checks

        return readiness_checks()
