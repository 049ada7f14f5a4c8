"""The benchmark admin's phases (docs/authors.md): each phase's window, quotas, kinds and
scored splits, checked by the rule a bundle follows (a split in one phase at most; with
several phases, each names its splits)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django_jsonform.widgets import JSONFormWidget

from benchmarks.admin import schemas
from benchmarks.models import Phase, Split


class PhaseFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        refused = []
        for form in self.deleted_forms:
            phase = form.instance
            # Read through the reverse relation: the submissions app sits above this one.
            count = phase.submissions.count() if phase.pk else 0
            if count:
                refused.append(
                    f"The phase '{phase.slug}' has {count} submission"
                    f"{'s' if count != 1 else ''}: it cannot be deleted."
                )
        if refused:
            raise forms.ValidationError(refused)
        kept = [
            form
            for form in self.forms
            if form.is_valid() and form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        owner: dict[int, str] = {}
        for form in kept:
            splits = list(form.cleaned_data.get("splits") or [])
            slug = form.cleaned_data.get("slug")
            if len(kept) > 1 and not splits:
                form.add_error("splits", "With several phases, each names the splits it scores.")
            for split in splits:
                if split.pk in owner:
                    form.add_error(
                        "splits",
                        f"'{split}' is scored in the phase '{owner[split.pk]}' already; a split "
                        "belongs to one phase.",
                    )
                owner[split.pk] = slug
            opens, closes = form.cleaned_data.get("opens_at"), form.cleaned_data.get("closes_at")
            if opens and closes and opens >= closes:
                form.add_error("closes_at", "Expected a time after the opening.")


class PhaseInline(admin.StackedInline):
    model = Phase
    formset = PhaseFormSet
    extra = 0
    fields = [
        ("slug", "title", "position"),
        ("opens_at", "closes_at"),
        ("max_per_day", "max_total"),
        "accepted_kinds",
        "splits",
    ]
    filter_horizontal = ["splits"]

    def get_formset(self, request, obj=None, **kwargs):
        self._benchmark = obj
        kwargs.setdefault("widgets", {})["accepted_kinds"] = JSONFormWidget(
            schema=schemas.KINDS_SCHEMA
        )
        return super().get_formset(request, obj, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "splits":
            splits = Split.objects.scored().select_related("task")
            benchmark = getattr(self, "_benchmark", None)
            kwargs["queryset"] = (
                splits.filter(task__benchmark=benchmark) if benchmark else splits.none()
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)
