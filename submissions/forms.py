from __future__ import annotations

from django import forms

from benchmarks.models import Benchmark
from submissions.models import WEB_ADDRESS


def _link(label: str, help_text: str) -> forms.URLField:
    """An optional web address shown in the submission's board row."""
    return forms.URLField(
        required=False,
        max_length=500,
        assume_scheme="https",
        label=label,
        help_text=help_text,
        validators=[WEB_ADDRESS],
    )


class _SubmissionDetailsForm(forms.Form):
    """What every submission form also asks: the task (on a benchmark with several), and the
    name and description shown with the scores."""

    task_help = ""
    task_empty_label = ""

    task = forms.ModelChoiceField(queryset=None, required=False, to_field_name="slug")
    name = forms.CharField(
        max_length=200, required=False, help_text="Shown on the leaderboard, e.g. the model name."
    )
    description = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Optional, in markdown: what you did, links to a paper, code or the model.",
    )
    paper_url = _link("Paper", "Optional: a link to the paper, shown in the board's row.")
    code_url = _link("Code", "Optional: a link to the code.")
    private = forms.BooleanField(
        required=False,
        label="Keep private",
        help_text="Off the public leaderboard; only you and the benchmark's maintainers see it.",
    )

    phase = forms.ChoiceField(
        required=False,
        help_text="The phase to submit to: it decides the splits scored and the quota used.",
    )

    def __init__(self, *args, benchmark: Benchmark, **kwargs):
        super().__init__(*args, **kwargs)
        phases = [p for p in benchmark.phases.all() if p.is_open()]
        if len(phases) < 2:  # one open phase (or none): no choice to make
            del self.fields["phase"]
        else:
            self.fields["phase"].choices = [(p.slug, p.title or p.slug) for p in phases]
        tasks = benchmark.tasks.all()
        if len(tasks) < 2:
            del self.fields["task"]
            return
        field = self.fields["task"]
        field.queryset = tasks
        field.label_from_instance = lambda t: f"{t.title or t.slug} ({t.slug})"
        field.empty_label, field.help_text = self.task_empty_label, self.task_help


class SubmissionForm(_SubmissionDetailsForm):
    """A prediction file upload. Only the shape of the request is checked here; the file itself
    is validated completely by `submission_create`."""

    task_empty_label = "Every task in the zip"
    task_help = "For a single file on a benchmark with several tasks: which task it is for."

    file = forms.FileField(
        # Rendered as HTML, as Django renders help_text.
        help_text="CSV, JSONL or Parquet (optionally .gz) with <code>id</code> and "
        "<code>prediction</code> columns, or a .zip holding one file per task, named after "
        "the task (<code>&lt;task&gt;.csv</code>).",
    )
    field_order = ["file", "task", "name", "description", "paper_url", "code_url", "private"]


class ModelSubmissionForm(_SubmissionDetailsForm):
    """A model: a Hub repository at a revision, or an archive of a model folder. Checked
    completely by `submission_create_model` (the revision resolved, the archive unpacked)."""

    task_empty_label = "Every task"
    task_help = "Run the model on one task only."

    kind = forms.CharField(widget=forms.HiddenInput, initial="model")
    repo_id = forms.CharField(
        label="Hub repository",
        max_length=200,
        required=False,
        help_text="e.g. <code>org/my-model</code>; resolved to a commit now.",
    )
    revision = forms.CharField(
        max_length=200, required=False, help_text="Branch, tag or commit (default: main)."
    )
    model_archive = forms.FileField(
        label="Or a model archive",
        required=False,
        help_text="A .zip or .tar.gz of a Hugging Face model folder (config.json, "
        "<code>*.safetensors</code>, tokenizer files), at its root or in one top folder.",
    )
    field_order = [
        "kind",
        "repo_id",
        "revision",
        "model_archive",
        "task",
        "name",
        "description",
        "private",
    ]

    def clean(self):
        cleaned = super().clean()
        if bool(cleaned.get("repo_id")) == bool(cleaned.get("model_archive")):
            raise forms.ValidationError("Name a Hub repository or attach a model archive.")
        return cleaned
