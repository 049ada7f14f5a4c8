"""Final selection (docs/teams.md): a participant, or a team, marks up to
`Benchmark.max_final` scored submissions of a phase as final; the final board (`show=final`,
`leaderboards.final_choice`) ranks each group's best of those, or of all its submissions when
it marked none. The marks are fixed once the benchmark closes."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction

from benchmarks.models import Split
from submissions.board_entries import board_changed
from submissions.models import Submission, Team, TeamMember


class FinalError(Exception):
    def __init__(self, message: str, *, status_code: int = 400):
        self.message = message
        self.status_code = status_code
        super().__init__(message)


def may_select(user, submission: Submission) -> bool:
    """The submission's participant, or a member of the team it was made for."""
    if not user.is_authenticated:
        return False
    if submission.participant_id == user.pk:
        return True
    return bool(
        submission.team_id
        and TeamMember.objects.filter(team_id=submission.team_id, user=user).exists()
    )


def group_submissions(submission: Submission):
    """The submissions of the same group (team, else the participant alone) and phase."""
    same = Submission.objects.filter(benchmark=submission.benchmark_id, phase=submission.phase_id)
    if submission.team_id:
        return same.filter(team=submission.team_id)
    return same.filter(participant=submission.participant_id, team__isnull=True)


def submission_select_final(*, submission: Submission, user, selected: bool) -> Submission:
    """Mark a scored submission as final, or unmark it."""
    benchmark = submission.benchmark
    if benchmark.max_final is None:
        raise FinalError("This benchmark has no final selection.")
    if not may_select(user, submission):
        raise FinalError(
            "Only its participant or their team choose the final submissions.", status_code=403
        )
    if benchmark.is_closed():
        raise FinalError("The benchmark has closed: the final selection is fixed.", status_code=403)
    if selected and submission.status != Submission.Status.SCORED:
        raise FinalError(
            "Only scored submissions can be marked as final; this one is "
            f"{submission.get_status_display().lower()}."
        )
    with transaction.atomic():
        # The same locks as a new submission takes: user, then team.
        get_user_model().objects.select_for_update().filter(pk=submission.participant_id).first()
        if submission.team_id:
            Team.objects.select_for_update().filter(pk=submission.team_id).first()
        if selected:
            marked = (
                group_submissions(submission)
                .filter(selected_final=True)
                .exclude(pk=submission.pk)
                .count()
            )
            if marked >= benchmark.max_final:
                raise FinalError(
                    f"{marked} submissions are marked as final already, the most this "
                    "benchmark allows: unmark one first."
                )
        Submission.objects.filter(pk=submission.pk).update(selected_final=selected)
        board_changed(
            list(Split.objects.filter(task__benchmark=benchmark).values_list("pk", flat=True))
        )
    submission.selected_final = selected
    return submission
