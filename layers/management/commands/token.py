from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from layers.management.lookups import user_named
from layers.models import ApiToken
from layers.tokens import create_token


class Command(BaseCommand):
    help = "Create, list and revoke API tokens (`Authorization: Token …`) for scripts."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a token and print it (shown only once)")
        create.add_argument("username")
        create.add_argument("--name", default="")
        create.add_argument("--expires-days", type=int, help="days until the token expires (default: never)")
        create.add_argument("--rate-limit", type=int, help="requests per minute (default: the platform's)")
        ls = sub.add_parser("list", help="list tokens (prefixes only)")
        ls.add_argument("username", nargs="?")
        revoke = sub.add_parser("revoke", help="revoke the token with this prefix")
        revoke.add_argument("prefix")

    def handle(self, *args, action, **opts):
        getattr(self, "do_" + action)(**opts)

    def do_create(self, username, name, expires_days, rate_limit, **_):
        user = user_named(username)
        expires = timezone.now() + timedelta(days=expires_days) if expires_days else None
        token, key = create_token(user, name=name, expires_at=expires)
        if rate_limit:
            token.rate_limit = rate_limit
            token.save(update_fields=["rate_limit"])
        self.stdout.write(key)

    def do_list(self, username=None, **_):
        tokens = ApiToken.objects.select_related("user").order_by("created_at")
        if username:
            tokens = tokens.filter(user__username=username)
        for t in tokens:
            state = "revoked" if t.revoked else ("expired" if t.expires_at and t.expires_at <= timezone.now() else "active")
            self.stdout.write(f"{t.prefix}…  {t.user.username:16} {state:8} {t.name}")

    def do_revoke(self, prefix, **_):
        n = ApiToken.objects.filter(prefix=prefix, revoked=False).update(revoked=True)
        if n == 0:
            raise CommandError(f"no active token with prefix {prefix!r}")
        self.stdout.write(f"revoked {n} token(s)")
