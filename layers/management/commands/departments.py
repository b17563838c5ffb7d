from django.core.management.base import BaseCommand

from layers.management.lookups import department_with_code, user_named
from layers.models import Department


class Command(BaseCommand):
    help = "Departments and their members."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="departments with their members")
        create = sub.add_parser("create", help="create a department (or rename an existing one)")
        create.add_argument("code")
        create.add_argument("name", help="Chinese name, e.g. 自然资源局")
        create.add_argument("--name-en", default="")
        for action in ("add-member", "remove-member"):
            p = sub.add_parser(action, help=f"{action.split('-')[0]} a user {'to' if action.startswith('add') else 'from'} a department")
            p.add_argument("code")
            p.add_argument("username")

    def handle(self, *args, action, **opts):
        getattr(self, "do_" + action.replace("-", "_"))(**opts)

    def do_list(self, **_):
        for dept in Department.objects.prefetch_related("members"):
            members = ", ".join(sorted(u.get_username() for u in dept.members.all()))
            self.stdout.write(f"{dept.code:10} {dept.name} ({dept.name_en})  [{members}]")

    def do_create(self, code, name, name_en, **_):
        dept, created = Department.objects.update_or_create(code=code, defaults={"name": name, "name_en": name_en})
        self.stdout.write(f"{'created' if created else 'updated'} {dept}")

    def do_add_member(self, code, username, **_):
        department_with_code(code).members.add(user_named(username))
        self.stdout.write(f"{username} is now a member of {code}")

    def do_remove_member(self, code, username, **_):
        department_with_code(code).members.remove(user_named(username))
        self.stdout.write(f"{username} is no longer a member of {code}")
