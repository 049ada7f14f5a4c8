"""Sweeps: one model submitted to every compatible task, as the platform's evaluation account,
so that authors and operators can seed boards with known models (`manage.py evaluate_model`,
`POST /api/v1/models/evaluate/`). Each submission is an ordinary model submission: it runs in
the sandbox and is scored like any other."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model

from benchmarks.models import Benchmark
from scoring.tasktypes import (
    IMAGE_CLASSIFICATION,
    QUESTION_ANSWERING,
    REGRESSION,
    TASK_TYPES,
    TEXT_CLASSIFICATION,
    TEXT_GENERATION,
    TOKEN_CLASSIFICATION,
)
from submissions import model_sources
from submissions.models import Submission
from submissions.services import SubmissionError, submission_create_model

EVALUATION_USERNAME = "evaluation"


@dataclass
class Sweep:
    submissions: list[Submission] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # why a benchmark or task was left out


def model_sweep_create(
    *,
    repo_id: str,
    revision: str = "",
    benchmark: Benchmark | None = None,
    task_type: str | None = None,
) -> Sweep:
    """Submit the Hub model `repo_id@revision` to every task of `benchmark`, or to every task of
    type `task_type` on the public benchmarks that take models; with neither, to every task of
    the types its architecture serves (config.json). The evaluation account's submissions use
    no quota; windows and accepted kinds still apply."""
    if task_type is not None and task_type not in TASK_TYPES:
        raise SubmissionError(
            f"Unknown task type '{task_type}'; use one of {', '.join(sorted(TASK_TYPES))}."
        )
    types = {task_type} if task_type else None
    if benchmark is None and task_type is None:
        types = model_task_types(repo_id=repo_id, revision=revision)
    account, _ = get_user_model().objects.get_or_create(username=EVALUATION_USERNAME)
    if benchmark is not None:
        benchmarks = [benchmark]
    else:
        benchmarks = list(Benchmark.objects.filter(visibility=Benchmark.Visibility.PUBLIC))
    sweep = Sweep()
    for target in benchmarks:
        if "model" not in target.kinds:
            sweep.skipped.append(f"{target.slug}: does not accept model submissions.")
            continue
        for task in target.tasks.all():
            if types is not None and task.type not in types:
                continue
            try:
                sweep.submissions.append(
                    submission_create_model(
                        benchmark=target,
                        participant=account,
                        repo_id=repo_id,
                        revision=revision,
                        task=task,
                        name=f"{repo_id}@{revision or 'main'}",
                        enforce_quota=False,
                    )
                )
            except SubmissionError as exc:
                if exc.status_code == 400:  # the model itself is wrong: everywhere the same
                    raise
                sweep.skipped.append(f"{target.slug}/{task.slug}: {' '.join(exc.messages)}")
    return sweep


# The head an architecture name ends with, and the task types it serves.
HEADS = {
    "ForSequenceClassification": {TEXT_CLASSIFICATION, REGRESSION},
    "ForTokenClassification": {TOKEN_CLASSIFICATION},
    "ForQuestionAnswering": {QUESTION_ANSWERING},
    "ForConditionalGeneration": {TEXT_GENERATION},
    "ForCausalLM": {TEXT_GENERATION},
    "LMHeadModel": {TEXT_GENERATION},
    "ForImageClassification": {IMAGE_CLASSIFICATION},
}


def model_task_types(*, repo_id: str, revision: str) -> set[str]:
    """The task types a Hub model's architecture serves, from its config.json (read as JSON;
    nothing of the model is loaded here)."""
    try:
        sha = model_sources.hub_resolve(repo_id=repo_id, revision=revision or "main")
        folder = model_sources.hub_fetch(
            repo_id=repo_id, sha=sha, allow_custom_code=False, allow_pickle_weights=False
        )
        config = json.loads((folder / "config.json").read_text())
    except model_sources.ModelSourceError as exc:
        raise SubmissionError(exc.messages) from None
    architectures = config.get("architectures") or []
    types = {
        t for name in architectures for head, ts in HEADS.items() if name.endswith(head) for t in ts
    }
    if config.get("num_labels") == 1 or len(config.get("id2label") or {}) == 1:
        types.discard(TEXT_CLASSIFICATION)
    elif TEXT_CLASSIFICATION in types:
        types.discard(REGRESSION)
    if not types:
        raise SubmissionError(
            f"Cannot tell which tasks {repo_id} serves from its architecture "
            f"({', '.join(architectures) or 'none named'}): give a benchmark or a task type."
        )
    return types
