"""Look up what a command line names, or stop with a clear error (exit status 2)."""

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from layers.models import Department, Layer


def user_named(username: str | None, *, optional: bool = False):
    if not username and optional:
        return None
    try:
        return get_user_model().objects.get(username=username)
    except get_user_model().DoesNotExist:
        raise CommandError(f"no user {username!r}", returncode=2) from None


def department_with_code(code: str) -> Department:
    try:
        return Department.objects.get(code=code)
    except Department.DoesNotExist:
        raise CommandError(f"no department {code!r}", returncode=2) from None


def layer_with_slug(slug: str) -> Layer:
    try:
        return Layer.objects.select_related("owner").get(slug=slug)
    except Layer.DoesNotExist:
        raise CommandError(f"no layer {slug!r}", returncode=2) from None
