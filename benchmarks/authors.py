"""Benchmark authors use the Django admin as their UI: they are staff members in the
"Benchmark authors" group, whose permissions cover benchmarks and the submissions to them. The
admin then shows each author only the benchmarks they maintain."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission

AUTHORS_GROUP = "Benchmark authors"
AUTHOR_PERMISSIONS = {
    "benchmarks": ["benchmark", "task", "split", "phase"],
    "submissions": ["submission", "evaluation", "team"],
}


def authors_group() -> Group:
    group, _ = Group.objects.get_or_create(name=AUTHORS_GROUP)
    wanted = Permission.objects.none()
    for app_label, models in AUTHOR_PERMISSIONS.items():
        wanted |= Permission.objects.filter(
            content_type__app_label=app_label, content_type__model__in=models
        )
    # Authors may not create or delete submissions or evaluations, only view and flag them.
    wanted = wanted.exclude(
        content_type__app_label="submissions",
        codename__regex=r"^(add|delete)_",
    )
    group.permissions.set(wanted)
    return group


def authors_group_refresh(**kwargs) -> None:
    """After `migrate`: an existing authors group gets the permissions of models added since
    (a new phase or team model), so that authors need not be granted again."""
    if Group.objects.filter(name=AUTHORS_GROUP).exists():
        authors_group()


def author_grant(user) -> None:
    """Make a user a benchmark author: staff access to the admin and the author permissions."""
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    user.groups.add(authors_group())
