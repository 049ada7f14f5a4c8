"""`manage.py create_api_token USERNAME [--create-user] [--name NAME]`: a new named API token for
the user (docs/accounts.md), its key printed once, alone on the last line so scripts can take it
with `tail -n 1`. Only the key's digest is stored, so an existing key cannot be printed again:
running the command again with the same name replaces that token (the old key stops working)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts.services import AccountError, api_token_create


class Command(BaseCommand):
    help = "Create a named REST API token for a user and print its key (shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--create-user",
            action="store_true",
            help="Create the user (without a password) if it does not exist.",
        )
        parser.add_argument(
            "--name",
            default="cli",
            help="The token's name on the user's API tokens page (default: cli). A token of "
            "this name is replaced.",
        )

    def handle(self, *args, username: str, create_user: bool, name: str, **options):
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
        replaced = user.api_tokens.filter(name=name.strip()).exists()
        try:
            token, key = api_token_create(user=user, name=name, replace=True)
        except AccountError as exc:
            raise CommandError(exc.message) from exc
        verb = "Replaced" if replaced else "Created"
        self.stdout.write(
            f"{verb} API token '{token.name}' for '{username}'; send it as "
            "'Authorization: Token <key>'. The key is shown only this once:"
        )
        self.stdout.write(key)
