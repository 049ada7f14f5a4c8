"""Access to submissions: the owner, the benchmark's maintainers, reviewers and platform
operators see every submission of theirs; anyone who can see a benchmark sees the result page
of a submission shown on its boards (scored, not hidden, disqualified or kept private by its
owner). Everyone else gets a 404, so that ids cannot be probed. Acting on a submission is its
owner's alone (`get_own_submission_for`): a reviewer who sees it gets a 403."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404

from benchmarks.access import can_review, can_view
from submissions.models import Submission


def can_see_submission(user, submission: Submission) -> bool:
    """Whether `user` may see the submission's status page: its owner, and the benchmark's
    maintainers and reviewers (`can_review`)."""
    if not user.is_authenticated:
        return False
    return submission.participant_id == user.pk or can_review(user, submission.benchmark)


def is_on_boards(submission: Submission) -> bool:
    """Whether the submission is shown on its benchmark's public leaderboards."""
    return (
        submission.status == Submission.Status.SCORED
        and not submission.is_hidden
        and not submission.is_disqualified
        and not submission.is_private
    )


def can_see_result(user, submission: Submission) -> bool:
    """Whether `user` may see the submission's results: those who may see it at all, and anyone
    who can see the benchmark while the submission is on its boards."""
    if can_see_submission(user, submission):
        return True
    return is_on_boards(submission) and can_view(user, submission.benchmark)


def _submission(submission_id: int) -> Submission | None:
    return (
        Submission.objects.select_related("benchmark", "participant", "task")
        .filter(pk=submission_id)
        .first()
    )


def get_submission_for(user, submission_id: int) -> Submission:
    submission = _submission(submission_id)
    if submission is None or not can_see_submission(user, submission):
        raise Http404("No such submission.")
    return submission


def get_result_for(user, submission_id: int) -> Submission:
    """A submission whose results `user` may see (see `can_see_result`), else a 404."""
    submission = _submission(submission_id)
    if submission is None or not can_see_result(user, submission):
        raise Http404("No such submission.")
    return submission


def get_own_submission_for(user, submission_id: int) -> Submission:
    """A submission its participant acts on (cancel, privacy): others who may see it get a
    403, the rest a 404."""
    submission = get_result_for(user, submission_id)
    if submission.participant_id != user.pk:
        raise PermissionDenied("Only the participant who made a submission can cancel it.")
    return submission
