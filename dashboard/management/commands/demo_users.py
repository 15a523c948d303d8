"""Create (or reset) one demo user per role and print their credentials.

The password comes from ``DEMO_PASSWORD`` or is generated and printed. Meant for
``make demo`` on a laptop; it refuses to run with DEBUG off unless ``--force`` is given,
so a production database never gets well-known accounts by accident.
"""

import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

from dashboard.roles import ANALYST, APPROVER, MANAGER, ensure_roles

DEMO_USERS = [
    ("analyst", [ANALYST], False),
    ("approver", [APPROVER], False),
    ("manager", [MANAGER], False),
    ("admin", [], True),
]


class Command(BaseCommand):
    help = "Create one demo user per role (analyst, approver, manager, admin) and print them."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Run even with DEBUG off.")

    def handle(self, *args, force: bool = False, **options):
        if not settings.DEBUG and not force:
            raise CommandError("demo_users creates well-known accounts; use --force with DEBUG off")
        password = os.environ.get("DEMO_PASSWORD") or secrets.token_urlsafe(12)
        ensure_roles()
        User = get_user_model()
        for username, roles, is_admin in DEMO_USERS:
            user, _ = User.objects.get_or_create(username=username)
            user.email = f"{username}@demo.invalid"
            user.is_staff = is_admin
            user.is_superuser = is_admin
            user.set_password(password)
            user.save()
            user.groups.set(Group.objects.filter(name__in=roles))
        port = os.environ.get("PORT", "8000")
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"Demo users (password for all: {password})"))
        for username, roles, is_admin in DEMO_USERS:
            what = "staff + superuser (Django admin)" if is_admin else ", ".join(roles)
            self.stdout.write(f"  {username:<9} {what}")
        self.stdout.write(f"Open http://localhost:{port}/ and log in.")
        self.stdout.write("")
