"""The best models for a task type across every public benchmark (docs/formats.md, "Best models
for a task type"): each task of that type on a public benchmark contributes its board, the split
`default_split` picks as the leaderboard does (a hidden split only once its scores are visible,
else the first public split); the model runs shown on result pages there (Hub models and model
archives, never prediction files; never private, hidden or disqualified submissions) are grouped
by model and ranked by where they stand on each board.

The ranking rule. On each board a run's primary-metric value is placed among the board's rows
(each participant's best submission and every baseline, as the board shows them): its `rank` is
the board's competition rank for that value, and its `percentile` the share of the board it
beats, ties counting half, itself included: 100 · (worse + equal / 2) / rows. Rows without a
value count as worse (the board puts them last); a run without a value has percentile 0.
Percentiles are comparable across metrics of any scale and direction. A model's `score` is the
mean of its percentiles with one neutral result (50) added, (Σ percentile + 50) / (boards + 1),
so that one good board does not outrank a model that is strong on many. Ties: more boards first,
then the higher plain mean, then the name.

Every read here is a bounded number of queries, whatever the number of benchmarks, tasks and
submissions."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import BigIntegerField, Case, F, FloatField, Value, When, Window
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, RowNumber

from benchmarks.models import Benchmark, Split, Task
from scoring.tasktypes import TASK_TYPES, key_scales, lower_is_better
from submissions.exports import number
from submissions.leaderboards import default_split
from submissions.models import Evaluation, Submission
from submissions.selectors import SelectionError

DEFAULT_LIMIT = 10
MAX_LIMIT = 100
PRIOR_PERCENTILE = 50.0  # the neutral result every model's score counts once
# What of a model run's measured speed and size is shown here (docs/formats.md).
EFFICIENCY_FIELDS = (
    "rows_per_second", "latency_ms_p50", "parameters", "peak_rss_mb", "peak_gpu_mb", "device",
)  # fmt: skip


@dataclass
class Board:
    """One task of the type and the split its leaderboard shows by default."""

    task: Task
    split: Split
    scores: list[float | None] = field(default_factory=list)  # the board's rows, best first
    submissions: set[int] = field(default_factory=set)  # the submissions that are its rows

    @property
    def benchmark(self) -> Benchmark:
        return self.task.benchmark

    @property
    def metric(self) -> str:
        return self.task.primary_metric

    def place(self, score: float | None, submission_id: int) -> tuple[int | None, float, int]:
        """Where a direction-normalised score (higher is better) stands on this board: its
        competition rank (None without a value), its percentile and the number of rows it is
        counted among (the board's, plus this run when it is not one of them)."""
        extra = 0 if submission_id in self.submissions else 1
        rows = len(self.scores) + extra
        if score is None:
            return None, 0.0, rows
        better = sum(1 for s in self.scores if s is not None and s > score)
        equal = sum(1 for s in self.scores if s == score) + extra
        worse = rows - better - equal
        return better + 1, 100.0 * (worse + equal / 2) / rows, rows


@dataclass
class BoardResult:
    """One model's result on one board: its best run there."""

    board: Board
    submission_id: int
    value: float | None
    ci: list | None
    rank: int | None
    percentile: float
    rows: int  # how many rows `rank` and `percentile` are counted among
    on_board: bool  # whether the run is itself a row of the board
    efficiency: dict | None

    @property
    def display_metrics(self) -> dict:
        """The value as templates format metrics: with its interval and display scale."""
        key = self.board.metric
        scale = key_scales(self.board.task.metrics).get(key)
        return {key: {"value": self.value, "ci": self.ci, "scale": scale}}


@dataclass
class ModelEntry:
    """A model (a Hub repository at one commit, or an archive by its digest) and its results."""

    name: str
    repo_id: str
    revision: str
    sha: str
    archive: str  # the archive's file name; empty for a Hub model
    results: list[BoardResult] = field(default_factory=list)
    rank: int = 0

    @property
    def url(self) -> str | None:
        """The Hub page of the repository at the commit that ran."""
        if not self.repo_id or not self.sha:
            return None
        return f"https://huggingface.co/{self.repo_id}/tree/{self.sha}"

    @property
    def mean_percentile(self) -> float:
        return sum(r.percentile for r in self.results) / len(self.results)

    @property
    def score(self) -> float:
        """The ranking score: the mean percentile with one neutral result added."""
        total = sum(r.percentile for r in self.results) + PRIOR_PERCENTILE
        return total / (len(self.results) + 1)

    @property
    def benchmark_count(self) -> int:
        return len({r.board.benchmark.pk for r in self.results})

    @property
    def parameters(self) -> int | None:
        """The parameter count a run measured (the same model: any run's)."""
        for result in self.results:
            value = number((result.efficiency or {}).get("parameters"))
            if value is not None:
                return int(value)
        return None


@dataclass
class TypeRanking:
    task_type: str
    boards: list[Board]
    models: list[ModelEntry]  # the top `limit`
    total: int  # models with a result on some board


def task_type_check(task_type: str) -> str:
    """`task_type` if it names one; else a SelectionError(404) naming those that exist."""
    if task_type not in TASK_TYPES:
        raise SelectionError(
            f"Unknown task type '{task_type}': use one of {', '.join(TASK_TYPES)}.",
            status_code=404,
        )
    return task_type


def limit_parse(raw: str | None) -> int:
    """`?limit=`: a whole number from 1 to MAX_LIMIT, DEFAULT_LIMIT when absent."""
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_LIMIT:
        raise SelectionError(f"Invalid limit '{raw}': use a whole number from 1 to {MAX_LIMIT}.")
    return int(raw)


def parameters_check(names, allowed: tuple[str, ...]) -> None:
    """Refuse query parameters an endpoint does not take, naming those it does."""
    unknown = sorted(set(names) - set(allowed))
    if unknown:
        takes = f"use {', '.join(allowed)}" if allowed else "this endpoint takes none"
        raise SelectionError(f"Unknown parameter {', '.join(map(repr, unknown))}: {takes}.")


def boards_of_type(task_type: str | None = None) -> list[Board]:
    """Every task (of `task_type`, or of any type) on a public benchmark whose board has a split
    it shows now, with that split. Two queries."""
    tasks = Task.objects.filter(benchmark__visibility=Benchmark.Visibility.PUBLIC)
    if task_type is not None:
        tasks = tasks.filter(type=task_type)
    tasks = tasks.select_related("benchmark").prefetch_related("splits")
    boards = []
    for task in tasks.order_by("benchmark__title", "benchmark__slug", "position", "id"):
        for split in task.splits.all():
            split.task = task  # scores_visible() reads split.task.benchmark
        split = default_split(task)
        if split is not None and split.scores_visible():
            boards.append(Board(task=task, split=split))
    return boards


def _metric_value(key: str) -> Case:
    """An evaluation's value of `key` in SQL, a JSON null as SQL NULL (as the board reads it)."""
    return Case(
        When(**{f"metrics__{key}__value": None}, then=Value(None)),
        default=Cast(KT(f"metrics__{key}__value"), FloatField()),
        output_field=FloatField(),
    )


def _primary(boards: list[Board], *, normalised: bool) -> Case:
    """Each evaluation's value of its task's primary metric; `normalised`: negated where lower
    is better, so that higher is better everywhere. One expression for every board."""
    keys = sorted({board.metric for board in boards})
    whens = []
    for key in keys:
        value = _metric_value(key)
        if normalised and lower_is_better(key):
            value = Value(-1.0) * value
        whens.append(When(task__primary_metric=key, then=value))
    return Case(*whens, default=Value(None), output_field=FloatField())


def _on_boards(boards: list[Board]):
    return Evaluation.objects.filter(
        split__in=[board.split.pk for board in boards],
        submission__in=Submission.objects.on_leaderboards(),
    )


def board_rows_load(boards: list[Board]) -> None:
    """Fill each board's rows as `leaderboard_build` ranks them on the primary metric: each
    participant's best submission, every baseline. One query for every board."""
    score = _primary(boards, normalised=True)
    order = [score.desc(nulls_last=True), F("submission__created_at").asc(), F("submission_id")]
    group = Case(
        When(submission__is_baseline=True, then=-F("submission_id")),
        default=F("submission__participant_id"),
        output_field=BigIntegerField(),
    )
    rows = (
        _on_boards(boards)
        .annotate(
            score=score,
            position=Window(RowNumber(), partition_by=[F("split_id"), group], order_by=order),
        )
        .filter(position=1)
        .order_by(*order)
        .values_list("split_id", "submission_id", "score")
    )
    by_split = {board.split.pk: board for board in boards}
    for split_id, submission_id, value in rows:
        board = by_split[split_id]
        board.scores.append(value)
        board.submissions.add(submission_id)


def _model_key(run: dict) -> tuple[str, str]:
    """A model's identity: its Hub repository and commit, or its archive's digest."""
    return run["submission__model_repo_id"], run["submission__model_sha"] or (
        run["submission__model_revision"]
    )


def model_results(boards: list[Board]) -> list[ModelEntry]:
    """Every model with a run on some board, each with its best run per board (ties: the
    earliest), placed on that board. One query."""
    runs = (
        _on_boards(boards)
        .filter(submission__kind=Submission.Kind.MODEL)
        .annotate(value=_primary(boards, normalised=False), score=_primary(boards, normalised=True))
        .order_by(
            F("score").desc(nulls_last=True), F("submission__created_at").asc(), "submission_id"
        )
        .values(
            "split_id",
            "submission_id",
            "value",
            "score",
            "metrics",
            "efficiency",
            "submission__name",
            "submission__original_filename",
            "submission__model_repo_id",
            "submission__model_revision",
            "submission__model_sha",
        )  # fmt: skip
    )
    by_split = {board.split.pk: board for board in boards}
    models: dict[tuple, ModelEntry] = {}
    seen: set[tuple] = set()
    for run in runs:
        key = _model_key(run)
        if (key, run["split_id"]) in seen:
            continue  # a later run of the same model on the same board: not its best
        seen.add((key, run["split_id"]))
        model = models.get(key)
        if model is None:
            repo_id = run["submission__model_repo_id"]
            archive = "" if repo_id else run["submission__original_filename"]
            model = models[key] = ModelEntry(
                name=repo_id or run["submission__name"] or archive or key[1],
                repo_id=repo_id,
                revision=run["submission__model_revision"],
                sha=run["submission__model_sha"],
                archive=archive,
            )
        board = by_split[run["split_id"]]
        rank, percentile, rows = board.place(run["score"], run["submission_id"])
        entry = (run["metrics"] or {}).get(board.metric) or {}
        efficiency = run["efficiency"]
        model.results.append(
            BoardResult(
                board=board,
                submission_id=run["submission_id"],
                value=run["value"],
                ci=entry.get("ci") if isinstance(entry, dict) else None,
                rank=rank,
                percentile=percentile,
                rows=rows,
                on_board=run["submission_id"] in board.submissions,
                efficiency={k: efficiency.get(k) for k in EFFICIENCY_FIELDS}
                if isinstance(efficiency, dict)
                else None,
            )
        )
    order = {id(board): i for i, board in enumerate(boards)}
    for model in models.values():
        model.results.sort(key=lambda r: order[id(r.board)])
    return list(models.values())


def models_ranked(models: list[ModelEntry]) -> list[ModelEntry]:
    """Models by score, then more boards, then the plain mean, then the name; equal scores share
    a rank (1, 1, 3)."""
    ranked = sorted(
        models,
        key=lambda m: (-round(m.score, 9), -len(m.results), -m.mean_percentile, m.name, m.sha),
    )
    previous, rank = None, 0
    for index, model in enumerate(ranked, start=1):
        current = round(model.score, 9)
        if current != previous:
            rank = index
        model.rank, previous = rank, current
    return ranked


def best_models(task_type: str, *, limit: int = DEFAULT_LIMIT) -> TypeRanking:
    """The top `limit` models of `task_type` across the public benchmarks. At most four
    queries."""
    task_type_check(task_type)
    boards = boards_of_type(task_type)
    models: list[ModelEntry] = []
    if boards:
        board_rows_load(boards)
        models = models_ranked(model_results(boards))
    return TypeRanking(task_type=task_type, boards=boards, models=models[:limit], total=len(models))


@dataclass
class TypeSummary:
    task_type: str
    benchmarks: int
    boards: int
    models: int


def task_type_summaries() -> list[TypeSummary]:
    """Every task type with the public benchmarks, boards and models it has. Three queries."""
    boards = boards_of_type()
    by_type: dict[str, list[Board]] = defaultdict(list)
    for board in boards:
        by_type[board.task.type].append(board)
    models: dict[str, set] = defaultdict(set)
    if boards:
        runs = (
            _on_boards(boards)
            .filter(submission__kind=Submission.Kind.MODEL)
            .values_list(
                "task__type",
                "submission__model_repo_id",
                "submission__model_sha",
                "submission__model_revision",
            )
            .distinct()
        )
        for task_type, repo_id, sha, revision in runs:
            models[task_type].add((repo_id, sha or revision))
    return [
        TypeSummary(
            task_type=name,
            benchmarks=len({b.benchmark.pk for b in by_type[name]}),
            boards=len(by_type[name]),
            models=len(models[name]),
        )
        for name in TASK_TYPES
    ]


def type_title(task_type: str) -> str:
    """A task type as people read it: `question-answering` → "Question answering"."""
    return task_type.replace("-", " ").capitalize()


def ranking_data(ranking: TypeRanking, *, url) -> dict:
    """A ranking as the API returns it; `url(name, *args)` makes an absolute link to a page."""

    def result_data(result: BoardResult) -> dict:
        board = result.board
        efficiency = result.efficiency
        return {
            "benchmark": board.benchmark.slug,
            "task": board.task.slug,
            "split": board.split.name,
            "metric": board.metric,
            "value": number(result.value),
            "ci": result.ci,
            "rank": result.rank,
            "rows": result.rows,
            "percentile": round(result.percentile, 4),
            "on_board": result.on_board,
            "submission": result.submission_id,
            "url": url("submission_detail", result.submission_id),
            "efficiency": efficiency
            and {k: v if isinstance(v, str) else number(v) for k, v in efficiency.items()},
        }

    return {
        "task_type": ranking.task_type,
        "total": ranking.total,
        "boards": [
            {
                "benchmark": board.benchmark.slug,
                "task": board.task.slug,
                "split": board.split.name,
                "metric": board.metric,
                "lower_is_better": lower_is_better(board.metric),
                "rows": len(board.scores),
            }
            for board in ranking.boards
        ],
        "models": [
            {
                "rank": model.rank,
                "name": model.name,
                "repo_id": model.repo_id or None,
                "revision": model.revision or None,
                "sha": model.sha or None,
                "archive": model.archive or None,
                "url": model.url,
                "score": round(model.score, 4),
                "mean_percentile": round(model.mean_percentile, 4),
                "boards": len(model.results),
                "benchmarks": model.benchmark_count,
                "parameters": model.parameters,
                "results": [result_data(result) for result in model.results],
            }
            for model in ranking.models
        ],
    }
