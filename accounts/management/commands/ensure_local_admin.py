import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "For local use: create an 'admin' superuser with a random password, printed once, if there is none."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username, **options):
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write("Admin login: use your superuser (`python manage.py changepassword <name>` resets it).")
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
        self.stdout.write(self.style.SUCCESS(f"Created the admin login {username!r} with password {password!r}."))
        self.stdout.write("It is shown only this once; `python manage.py changepassword admin` sets a new one.")
