"""Submission workflows a participant starts: create (a prediction file or a model: validate,
store, enqueue) and cancel, and the quota. The worker's side of a submission's life is in
submissions/pipeline.py and submissions/model_runs.py."""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from benchmarks.models import Benchmark, Phase, Task
from scoring import sandbox
from submissions import model_runs, model_sources, pipeline, uploads
from submissions.board_entries import entries_refresh
from submissions.models import Submission, Team
from submissions.teams import team_of

logger = logging.getLogger(__name__)

Status = Submission.Status


class SubmissionError(Exception):
    """A submission that cannot be accepted, with messages a participant can act on.
    `status_code` is what the API answers: 400 bad input, 403 not allowed, 429 over quota."""

    def __init__(self, messages: list[str] | str, *, status_code: int = 400):
        self.messages = [messages] if isinstance(messages, str) else list(messages)
        self.status_code = status_code
        super().__init__("; ".join(self.messages))


def _check_policy(
    *,
    benchmark: Benchmark,
    participant,
    kind: str,
    phase: Phase | None = None,
    team: Team | None = None,
    check_quota: bool = True,
) -> None:
    now = timezone.now()
    if benchmark.is_draft:
        raise SubmissionError(
            "This benchmark is not published yet: it takes submissions once its authors "
            "publish it.",
            status_code=403,
        )
    if benchmark.opens_at and now < benchmark.opens_at:
        raise SubmissionError(
            f"Submissions open at {benchmark.opens_at:%Y-%m-%d %H:%M} UTC.", status_code=403
        )
    if benchmark.is_closed(now):
        raise SubmissionError(
            f"Submissions closed at {benchmark.closes_at:%Y-%m-%d %H:%M} UTC.", status_code=403
        )
    if phase is not None and phase.opens_at and now < phase.opens_at:
        raise SubmissionError(
            f"The phase '{phase.slug}' opens at {phase.opens_at:%Y-%m-%d %H:%M} UTC.",
            status_code=403,
        )
    if phase is not None and phase.closes_at and now >= phase.closes_at:
        raise SubmissionError(
            f"The phase '{phase.slug}' closed at {phase.closes_at:%Y-%m-%d %H:%M} UTC.",
            status_code=403,
        )
    kinds = phase.kinds if phase is not None else benchmark.kinds
    if kind not in kinds:
        accepted = " or ".join(kinds)
        where = f"The phase '{phase.slug}'" if phase is not None else "This benchmark"
        raise SubmissionError(
            f"{where} does not accept {kind} submissions; it accepts {accepted}.",
            status_code=403,
        )
    if not check_quota:  # operators' sweeps (submissions/sweeps.py)
        return
    quota = submission_quota(
        benchmark=benchmark, participant=participant, phase=phase, team=team, now=now
    )
    who = f"Your team '{team.name}' has" if team is not None else "You have"
    if quota.total == 0:
        raise SubmissionError(
            f"{who} used all {quota.max_total} submissions allowed{quota.where}.",
            status_code=429,
        )
    if quota.today == 0:
        raise SubmissionError(
            f"{who} used today's {quota.max_per_day} submissions{quota.where}; "
            f"the limit resets at {quota.resets_at:%Y-%m-%d %H:%M} UTC.",
            status_code=429,
        )


@dataclass(frozen=True)
class Quota:
    """Submissions left: `total` and `today` are None where no limit is set. `max_total` and
    `max_per_day` are the limits, `where` names their scope in a sentence."""

    total: int | None
    today: int | None
    resets_at: datetime
    max_total: int | None = None
    max_per_day: int | None = None
    where: str = " on this benchmark"


def submission_quota(
    *,
    benchmark: Benchmark,
    participant,
    now: datetime | None = None,
    phase: Phase | None = None,
    team: Team | None = None,
) -> Quota:
    """What is left of a quota: a team's (every submission made for it), else the
    participant's (every submission they made on the benchmark); within the phase where there
    is one, under the phase's limits (the benchmark's where the phase sets none). Runs that
    failed through the platform's fault and cancellations before a start do not count; days
    are UTC days."""
    now = now or timezone.now()
    mine = Submission.objects.filter(benchmark=benchmark)
    mine = mine.filter(team=team) if team is not None else mine.filter(participant=participant)
    max_total, max_per_day, where = benchmark.max_total, benchmark.max_per_day, " on this benchmark"
    if phase is not None:
        mine = mine.filter(phase=phase)
        max_total, max_per_day = phase.limits()
        where = f" in the phase '{phase.slug}'"
    mine = mine.counting_towards_quota()
    day_start = datetime.combine(now.astimezone(UTC).date(), time.min, tzinfo=UTC)
    total = today = None
    if max_total is not None:
        total = max(0, max_total - mine.count())
    if max_per_day is not None:
        today = max(0, max_per_day - mine.filter(created_at__gte=day_start).count())
    return Quota(
        total=total,
        today=today,
        resets_at=day_start + timedelta(days=1),
        max_total=max_total,
        max_per_day=max_per_day,
        where=where,
    )


def submission_phase(
    *, benchmark: Benchmark, slug: str | None = None, now: datetime | None = None
) -> Phase | None:
    """The phase a new submission belongs to: the one named, else the first open one (by
    position). None on a benchmark without phases. Its window is checked with the policy."""
    phases = list(benchmark.phases.prefetch_related("splits"))
    slug = (slug or "").strip()
    if not phases:
        if slug:
            raise SubmissionError(f"This benchmark has no phases; leave out 'phase' ({slug!r}).")
        return None
    if slug:
        for phase in phases:
            if phase.slug == slug:
                return phase
        names = ", ".join(p.slug for p in phases)
        raise SubmissionError(f"No phase '{slug[:50]}' on this benchmark (phases: {names}).")
    now = now or timezone.now()
    for phase in phases:
        if phase.is_open(now):
            return phase
    upcoming = [p for p in phases if p.opens_at and p.opens_at > now]
    if upcoming:
        first = min(upcoming, key=lambda p: p.opens_at)
        raise SubmissionError(
            f"No phase is open now; '{first.slug}' opens at {first.opens_at:%Y-%m-%d %H:%M} UTC.",
            status_code=403,
        )
    raise SubmissionError("Every phase of this benchmark has closed.", status_code=403)


def stored_name(name: str) -> str:
    """The name an upload is stored under: `<uuid>-` and the end of its name (where the
    extensions are) in letters, digits, `.`, `-` and `_`, at most 64 of them, so that any name a
    browser sends fits a file system's 255 bytes. `original_filename` keeps the name as sent."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name.rsplit("/", 1)[-1])[-64:].lstrip(".")
    return f"{uuid.uuid4().hex}-{safe or 'predictions'}"


def _links(links: dict[str, str] | None) -> dict[str, str]:
    """The submission's paper and code links (checked as web addresses by the form or the
    serializer that read them)."""
    links = links or {}
    return {key: (links.get(key) or "").strip()[:500] for key in ("paper_url", "code_url")}


def submission_create(
    *,
    benchmark: Benchmark,
    participant,
    uploaded_file: UploadedFile,
    task: Task | None = None,
    name: str = "",
    description: str = "",
    links: dict[str, str] | None = None,
    private: bool = False,
    phase: str | None = None,
) -> Submission:
    """Accept a prediction file: check the policy and quota, validate the file completely (so a
    participant hears about a bad file at once, not from a failed run), store it and enqueue
    scoring once the row is committed."""
    if uploaded_file is None:
        raise SubmissionError("Attach a prediction file (field 'file').")
    limit = settings.MAX_PREDICTION_FILE_MB * 1024 * 1024
    if uploaded_file.size > limit:
        raise SubmissionError(
            f"The file is {uploaded_file.size / 2**20:.1f} MB; "
            f"the limit is {settings.MAX_PREDICTION_FILE_MB} MB."
        )
    if uploaded_file.size == 0:
        raise SubmissionError("The file is empty.")

    # Validation and storage come first and outside any lock: a large file takes seconds to
    # check, and on SQLite a write lock held that long stalls every other upload. The lock
    # below covers only the quota count, the insert and the enqueue.
    in_phase = submission_phase(benchmark=benchmark, slug=phase)
    _check_policy(
        benchmark=benchmark,
        participant=participant,
        kind="predictions",
        phase=in_phase,
        team=team_of(benchmark=benchmark, user=participant),
    )
    try:
        uploads.predictions_check(
            benchmark=benchmark, task=task, uploaded=uploaded_file, phase=in_phase
        )
    except uploads.PredictionsRejected as exc:
        raise SubmissionError(exc.messages) from None
    submission = Submission(
        benchmark=benchmark,
        participant=participant,
        task=task,
        phase=in_phase,
        kind=Submission.Kind.PREDICTIONS,
        original_filename=uploaded_file.name[:255],
        name=name.strip()[:200],
        description=description.strip(),
        **_links(links),
        is_private=private,
        celery_task_id=str(uuid.uuid4()),
    )
    uploaded_file.seek(0)
    submission.file.save(stored_name(uploaded_file.name), uploaded_file, save=False)
    return _save_and_enqueue(submission)


def _save_and_enqueue(submission: Submission, *, enforce_quota: bool = True) -> Submission:
    """Insert a checked submission and publish its job once the row is committed. The lock
    covers only the quota count, the insert and the enqueue."""
    try:
        with transaction.atomic():
            # One submission at a time per participant, so two parallel uploads cannot both
            # pass the quota check (a row lock on PostgreSQL; SQLite's write lock anyway).
            get_user_model().objects.select_for_update().filter(
                pk=submission.participant.pk
            ).first()
            # Then the team's row (membership is changed under the same two locks, in this
            # order), so that two members cannot both take the team's last slot.
            team = team_of(benchmark=submission.benchmark, user=submission.participant)
            if team is not None and not submission.is_baseline:
                Team.objects.select_for_update().filter(pk=team.pk).first()
                submission.team = team
            _check_policy(
                benchmark=submission.benchmark,
                participant=submission.participant,
                kind=submission.kind,
                phase=submission.phase,
                team=submission.team,
                check_quota=enforce_quota,
            )
            submission.save()
            transaction.on_commit(lambda: pipeline.enqueue(submission))
    except BaseException:
        if submission.file:
            submission.file.delete(save=False)  # nothing is kept of a refused upload
        raise
    return submission


def submission_create_model(
    *,
    benchmark: Benchmark,
    participant,
    repo_id: str = "",
    revision: str = "",
    archive: UploadedFile | None = None,
    task: Task | None = None,
    name: str = "",
    description: str = "",
    links: dict[str, str] | None = None,
    private: bool = False,
    enforce_quota: bool = True,
    phase: str | None = None,
) -> Submission:
    """Accept a model: a Hub repository (its revision resolved to a commit now, so the run uses
    exactly what was submitted) or an uploaded archive of a model folder (unpacked and checked
    now, so a bad archive is refused at once). The model runs later, in the sandbox, on the
    `gpu` queue (submissions/model_runs.py)."""
    if bool(repo_id) == (archive is not None):
        raise SubmissionError(
            "Name a Hub model ('model': {'repo_id': ..., 'revision': ...}) or attach a model "
            "archive (field 'model_archive'), not both."
        )
    in_phase = submission_phase(benchmark=benchmark, slug=phase)
    _check_policy(
        benchmark=benchmark,
        participant=participant,
        kind="model",
        phase=in_phase,
        team=team_of(benchmark=benchmark, user=participant),
        check_quota=enforce_quota,
    )
    if not sandbox.available() and not settings.MODEL_RUNS_WITHOUT_SANDBOX_UNSAFE:
        raise SubmissionError(
            "Model submissions are switched off on this platform: it runs models only in a "
            "bubblewrap sandbox, and bubblewrap is not installed here. (An operator may set "
            "MODEL_RUNS_WITHOUT_SANDBOX_UNSAFE=true for local development only.)",
            status_code=503,
        )
    policy = {
        "allow_custom_code": benchmark.allow_custom_code,
        "allow_pickle_weights": benchmark.allow_pickle_weights,
    }
    submission = Submission(
        benchmark=benchmark,
        participant=participant,
        task=task,
        phase=in_phase,
        kind=Submission.Kind.MODEL,
        stage=Submission.Stage.RUN,
        name=name.strip()[:200],
        description=description.strip(),
        **_links(links),
        is_private=private,
        celery_task_id=str(uuid.uuid4()),
    )
    try:
        if repo_id:
            sha = model_sources.hub_resolve(repo_id=repo_id, revision=revision or "main")
            submission.model_repo_id, submission.model_sha = repo_id, sha
            submission.model_revision = revision or "main"
        else:
            limit = settings.MAX_MODEL_ARCHIVE_MB
            if archive.size > limit << 20:
                raise SubmissionError(
                    f"The archive is {archive.size / 2**20:.1f} MB; the limit is {limit} MB."
                )
            digest = model_runs.archive_digest(archive)
            # Unpacked and checked now, as the run will use it, so a bad archive is refused
            # at once (and a worker on this machine finds it unpacked).
            model_runs.archive_unpacked(
                archive=archive, filename=archive.name, digest=digest, **policy
            )
            submission.model_sha = "sha256:" + digest
            submission.original_filename = archive.name[:255]
    except model_sources.HubUnreachable as exc:  # not the participant's doing
        raise SubmissionError(exc.messages, status_code=503) from None
    except model_sources.ModelSourceError as exc:
        raise SubmissionError(exc.messages) from None
    for run_task in model_runs.run_tasks(submission):
        model_runs.model_inputs_ensure(
            run_task, submission.scored_splits(run_task)
        )  # what the run reads instead of the splits
    if archive is not None:
        archive.seek(0)
        submission.file.save(stored_name(archive.name), archive, save=False)
    return _save_and_enqueue(submission, enforce_quota=enforce_quota)


def submission_set_private(*, submission: Submission, private: bool) -> Submission:
    """The owner's choice: a private submission is left off public boards, and its results are
    seen by its owner and the benchmark's maintainers only."""
    with transaction.atomic():
        Submission.objects.filter(pk=submission.pk).update(is_private=private)
        entries_refresh([submission.pk])
    submission.is_private = private
    return submission


def submission_cancel(*, submission: Submission) -> Submission:
    """Cancel a queued or running submission. A running worker notices when it tries to
    record its result (it only records over a `running` row)."""
    updated = (
        Submission.objects.filter(pk=submission.pk)
        .unfinished()
        .update(status=Status.CANCELLED, finished_at=timezone.now())
    )
    if not updated:
        submission.refresh_from_db()
        raise SubmissionError(
            f"Only queued or running submissions can be cancelled; this one is "
            f"{submission.get_status_display().lower()}.",
            status_code=400,
        )
    pipeline.job_revoke(submission)
    submission.refresh_from_db()
    return submission
