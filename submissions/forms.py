from __future__ import annotations

from django import forms

from benchmarks.models import Benchmark


class SubmissionForm(forms.Form):
    """A prediction file upload. Only the shape of the request is checked here; the file itself
    is validated completely by `submission_create`."""

    file = forms.FileField(
        # Rendered as HTML, as Django renders help_text.
        help_text="CSV, JSONL or Parquet (optionally .gz) with <code>id</code> and "
        "<code>prediction</code> columns, or a .zip holding one file per task, named after "
        "the task (<code>&lt;task&gt;.csv</code>).",
    )
    task = forms.ModelChoiceField(
        queryset=None,
        required=False,
        to_field_name="slug",
        empty_label="Every task in the zip",
        help_text="For a single file on a benchmark with several tasks: which task it is for.",
    )
    name = forms.CharField(
        max_length=200, required=False, help_text="Shown on the leaderboard, e.g. the model name."
    )
    description = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Optional: what you did, a link to a paper or code.",
    )

    def __init__(self, *args, benchmark: Benchmark, **kwargs):
        super().__init__(*args, **kwargs)
        tasks = benchmark.tasks.all()
        self.fields["task"].queryset = tasks
        self.fields["task"].label_from_instance = lambda t: f"{t.title or t.slug} ({t.slug})"
        if len(tasks) < 2:
            del self.fields["task"]
