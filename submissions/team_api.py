"""REST API of teams and final selection (docs/teams.md): your team on a benchmark and your
invitations, create, invite, answer, leave; mark a submission as final. Errors answer
`{"errors": [...]}` with the status the service gives."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from benchmarks.access import get_benchmark_for
from submissions import finals, teams
from submissions.access import get_result_for
from submissions.serializers import FinalSerializer, SubmissionDetailSerializer


class InvitationSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    team = serializers.CharField(source="team.name", read_only=True)
    benchmark = serializers.CharField(source="team.benchmark.slug", read_only=True)
    invited = serializers.SerializerMethodField()
    invited_by = serializers.CharField(source="invited_by.username", read_only=True, default=None)
    created_at = serializers.DateTimeField(read_only=True)

    def get_invited(self, invitation) -> str:
        return invitation.user.username if invitation.user_id else invitation.email


class TeamSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    members = serializers.SerializerMethodField()
    invitations = serializers.SerializerMethodField()

    def get_members(self, team) -> list[str]:
        return [m.user.username for m in team.members.select_related("user")]

    @extend_schema_field(InvitationSerializer(many=True))
    def get_invitations(self, team) -> list[dict]:
        pending = team.invitations.filter(answered_at__isnull=True).select_related(
            "user", "invited_by", "team__benchmark"
        )
        return InvitationSerializer(pending, many=True).data


TeamStateSerializer = inline_serializer(
    "TeamState",
    {
        "team": TeamSerializer(allow_null=True),
        "invitations": InvitationSerializer(many=True),
    },
)


def _state(request, benchmark) -> dict:
    team = teams.team_of(benchmark=benchmark, user=request.user)
    invitations = teams.invitations_for(user=request.user, benchmark=benchmark)
    return {
        "team": TeamSerializer(team).data if team else None,
        "invitations": InvitationSerializer(invitations, many=True).data,
    }


def _refused(exc) -> Response:
    return Response({"errors": [exc.message]}, status=exc.status_code)


@extend_schema(
    methods=["GET"], operation_id="team_read", request=None, responses=TeamStateSerializer
)
@extend_schema(
    methods=["POST"],
    operation_id="team_create",
    request=inline_serializer("TeamCreate", {"name": serializers.CharField(max_length=100)}),
    responses={200: TeamStateSerializer, 201: TeamStateSerializer},
    description="GET: your team on the benchmark (null: none) and the invitations you may "
    'answer. POST `{"name"}`: create a team, with you its first member.',
)
@api_view(["GET", "POST"])
@permission_classes([IsAuthenticated])
def team(request, slug: str):
    benchmark = get_benchmark_for(request.user, slug)
    if request.method == "POST":
        name = request.data.get("name") if isinstance(request.data, dict) else None
        if not isinstance(name, str):
            return Response({"errors": ['Send {"name": "<team name>"}.']}, status=400)
        try:
            teams.team_create(benchmark=benchmark, user=request.user, name=name)
        except teams.TeamError as exc:
            return _refused(exc)
        return Response(_state(request, benchmark), status=status.HTTP_201_CREATED)
    return Response(_state(request, benchmark))


@extend_schema(
    operation_id="team_invite",
    request=inline_serializer("TeamInvite", {"who": serializers.CharField()}),
    responses={201: InvitationSerializer},
    description="Invite a participant (username or e-mail) or an e-mail address to your team.",
)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def team_invite(request, slug: str):
    benchmark = get_benchmark_for(request.user, slug)
    who = request.data.get("who") if isinstance(request.data, dict) else None
    if not isinstance(who, str):
        return Response({"errors": ['Send {"who": "<username or e-mail>"}.']}, status=400)
    team = teams.team_of(benchmark=benchmark, user=request.user)
    if team is None:
        return Response({"errors": ["You are in no team on this benchmark."]}, status=400)
    try:
        invitation = teams.team_invite(team=team, by=request.user, who=who)
    except teams.TeamError as exc:
        return _refused(exc)
    return Response(InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)


@extend_schema(
    operation_id="team_leave",
    request=None,
    responses=TeamStateSerializer,
    description="Leave your team (members who have submitted for it stay).",
)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def team_leave(request, slug: str):
    benchmark = get_benchmark_for(request.user, slug)
    team = teams.team_of(benchmark=benchmark, user=request.user)
    if team is None:
        return Response({"errors": ["You are in no team on this benchmark."]}, status=400)
    try:
        teams.team_leave(team=team, user=request.user)
    except teams.TeamError as exc:
        return _refused(exc)
    return Response(_state(request, benchmark))


@extend_schema(
    operation_id="team_invitation_answer",
    request=inline_serializer("InvitationAnswer", {"accept": serializers.BooleanField()}),
    responses=InvitationSerializer,
    description='Answer an invitation addressed to you: `{"accept": true}` joins the team.',
)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def invitation_answer(request, invitation_id: int):
    invitation = get_object_or_404(teams.invitations_for(user=request.user), pk=invitation_id)
    accept = request.data.get("accept") if isinstance(request.data, dict) else None
    if not isinstance(accept, bool):
        return Response({"errors": ['Send {"accept": true} or {"accept": false}.']}, status=400)
    try:
        invitation = teams.invitation_answer(
            invitation=invitation, user=request.user, accept=accept
        )
    except teams.TeamError as exc:
        return _refused(exc)
    return Response(InvitationSerializer(invitation).data)


@extend_schema(
    operation_id="submission_final",
    request=FinalSerializer,
    responses=SubmissionDetailSerializer,
    description="Mark a scored submission as final for the final board, or unmark it (its "
    "participant or team; at most the benchmark's `max_final`).",
)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def submission_final(request, submission_id: int):
    submission = get_result_for(request.user, submission_id)
    if not finals.may_select(request.user, submission):
        return Response(
            {"errors": ["Only its participant or their team choose the final submissions."]},
            status=403,
        )
    form = FinalSerializer(data=request.data)
    form.is_valid(raise_exception=True)
    try:
        submission = finals.submission_select_final(
            submission=submission, user=request.user, selected=form.validated_data["final"]
        )
    except finals.FinalError as exc:
        return _refused(exc)
    return Response(SubmissionDetailSerializer(submission, context={"request": request}).data)
