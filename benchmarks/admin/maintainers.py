"""The maintainers picker: a search box over usernames (the admin's autocomplete) instead of a
list of every account.

Django's own autocomplete endpoint answers only users who may view the user admin, which
authors may not (it would show them every account's e-mail address); this one answers whoever
may add or change benchmarks, for these fields (maintainers, reviewers), with usernames only."""

from __future__ import annotations

from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.contrib.admin.widgets import AutocompleteSelectMultiple
from django.core.exceptions import PermissionDenied

URL_NAME = "benchmarks_benchmark_maintainers"
FIELD = ("benchmarks", "benchmark", "maintainers")
# The reviewers picker (read-only insiders) is the same search over usernames.
FIELDS = {FIELD, ("benchmarks", "benchmark", "reviewers")}


class MaintainersWidget(AutocompleteSelectMultiple):
    url_name = f"%s:{URL_NAME}"


class MaintainersSearchView(AutocompleteJsonView):
    benchmark_admin = None  # the BenchmarkAdmin whose form uses the picker

    def process_request(self, request):
        asked = tuple(request.GET.get(key) for key in ("app_label", "model_name", "field_name"))
        if asked not in FIELDS:
            raise PermissionDenied
        return super().process_request(request)

    def has_perm(self, request, obj=None):
        admin = self.benchmark_admin
        return admin.has_add_permission(request) or admin.has_change_permission(request)

    def get_queryset(self):
        users = self.model_admin.get_queryset(self.request).filter(is_active=True)
        if self.term:
            users = users.filter(username__icontains=self.term)
        return users.order_by("username")

    def serialize_result(self, obj, to_field_name):
        return {"id": str(getattr(obj, to_field_name)), "text": obj.get_username()}
