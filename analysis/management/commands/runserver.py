from django.contrib.staticfiles.management.commands.runserver import Command as RunserverCommand


class Command(RunserverCommand):
    """Django's runserver, on the product's port 8080 by default (SPEC §1)."""

    default_port = "8080"
