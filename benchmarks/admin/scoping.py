"""What an author may see in the admin: superusers see everything; any other staff member is an
author who sees and edits only the benchmarks they maintain, and everything under them."""

from __future__ import annotations

from benchmarks.models import Benchmark, Split, Task


def maintained_benchmarks(user):
    return Benchmark.objects.filter(maintainers=user)


class MaintainedOnlyMixin:
    """Limits an admin (or inline) to rows under the benchmarks its user maintains, both in its
    own queryset and in the choices of its foreign keys."""

    # Lookup from this model to its benchmark's maintainers.
    maintainers_lookup = "benchmark__maintainers"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{self.maintainers_lookup: request.user})

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if not request.user.is_superuser:
            user = request.user
            if db_field.related_model is Benchmark:
                kwargs["queryset"] = maintained_benchmarks(user)
            elif db_field.related_model is Task:
                kwargs["queryset"] = Task.objects.filter(benchmark__maintainers=user)
            elif db_field.related_model is Split:
                kwargs["queryset"] = Split.objects.filter(task__benchmark__maintainers=user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
