"""`manage.py create_api_token USERNAME [--create-user]`: the user's API token, created if
needed, printed alone on the last line so scripts can take it with `tail -n 1`."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = "Print a user's REST API token (created if the user has none)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--create-user",
            action="store_true",
            help="Create the user (without a password) if it does not exist.",
        )

    def handle(self, *args, username: str, create_user: bool, **options):
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None:
            if not create_user:
                raise CommandError(
                    f"No user '{username}'. Create it first (createsuperuser, the admin) "
                    "or pass --create-user."
                )
            user = User.objects.create_user(username=username)
            self.stdout.write(f"Created user '{username}' (no password: API access only).")
        token, created = Token.objects.get_or_create(user=user)
        verb = "Created" if created else "Existing"
        self.stdout.write(
            f"{verb} API token for '{username}'; send it as 'Authorization: Token <key>'."
        )
        self.stdout.write(token.key)
