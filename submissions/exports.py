"""Files made of what pages show: a leaderboard view as CSV or JSON, and a submission's scores
as a Hugging Face model card's `model-index` (docs/formats.md, "Exports").

Both read through submissions/boards.py and submissions/selectors.py only: a board export is
`leaderboard_for`'s board for the same query parameters (refused where the page refuses,
withheld where the page withholds), and the model index holds the metrics `visible_evaluations`
shows, never a slice cell."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC

import yaml
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse

from benchmarks.models import Benchmark
from scoring.tasktypes import REGRESSION, TEXT_CLASSIFICATION, metric_display_name
from submissions.boards import BoardView, leaderboard_from_query
from submissions.leaderboards import Leaderboard, Row
from submissions.models import Submission
from submissions.selectors import SelectionError, evaluation_columns, visible_evaluations

FORMATS = {"csv": "text/csv; charset=utf-8", "json": "application/json"}
BOARD_FIELDS = (
    "rank", "participant", "name", "submission", "url", "model_url", "paper_url", "code_url",
    "kind", "created_at", "is_baseline", "value", "p_value_vs_above", "tied_with_first",
)  # fmt: skip
# A model run's speed and size (docs/formats.md), as columns when some row of the board has them.
EFFICIENCY_FIELDS = (
    "rows_per_second", "latency_ms_p50", "latency_ms_p95", "peak_rss_mb", "peak_gpu_mb",
    "parameters", "load_seconds", "device", "batch_size",
)  # fmt: skip
# A spreadsheet runs a text cell that starts with one of these as a formula (a participant
# names their submission `=HYPERLINK(...)`): such cells are written with a leading apostrophe.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Export:
    content: bytes
    content_type: str
    filename: str

    def response(self) -> HttpResponse:
        response = HttpResponse(self.content, content_type=self.content_type)
        response["Content-Disposition"] = f'attachment; filename="{self.filename}"'
        return response


def number(value) -> float | int | None:
    """A stored metric or efficiency figure as a number; None for anything else (undefined)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if math.isfinite(value) else None


def board_fields(board: Leaderboard) -> list[str]:
    """An export's columns: the row's submission, then value, low and high of the 95% interval
    of every metric column, then speed and size where the board shows them."""
    fields = list(BOARD_FIELDS)
    for key in board.columns:
        fields += [key, f"{key}_ci_low", f"{key}_ci_high"]
    if board.has_efficiency:
        fields += EFFICIENCY_FIELDS
    return fields


def board_record(board: Leaderboard, row: Row, url: str) -> dict:
    submission = row.submission
    record = {
        "rank": row.rank,
        "participant": submission.participant.username,
        "name": submission.display_name,
        "submission": submission.pk,
        "url": url,
        "model_url": submission.hub_url,
        "paper_url": submission.paper_url,
        "code_url": submission.code_url,
        "kind": submission.kind,
        # As the API writes dates: UTC, ISO 8601 with a Z.
        "created_at": submission.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "is_baseline": submission.is_baseline,
        "value": number(row.value),  # what the board is ranked on (the sort metric, or its cell)
        # The significance marks (submissions/significance.py), as the page shows them.
        "p_value_vs_above": number(row.p_above),
        "tied_with_first": row.tied_with_first,
    }
    metrics = row.evaluation.metrics or {}
    for key in board.columns:
        entry = metrics.get(key) if isinstance(metrics.get(key), dict) else {}
        ci = entry.get("ci")
        low, high = ci if isinstance(ci, (list, tuple)) and len(ci) == 2 else (None, None)
        record[key] = number(entry.get("value"))
        record[f"{key}_ci_low"] = number(low)
        record[f"{key}_ci_high"] = number(high)
    if board.has_efficiency:
        efficiency = row.efficiency or {}
        for key in EFFICIENCY_FIELDS:
            value = efficiency.get(key)
            record[key] = value if isinstance(value, str) else number(value)
    return record


def csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_STARTS) else value
    return str(value)


def safe_filename_part(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "x"


def board_filename(view: BoardView, fmt: str) -> str:
    parts = [view.benchmark.slug, view.task.slug, view.split.name, "leaderboard"]
    if view.sort != view.task.primary_metric:
        parts += ["by", view.sort]
    if view.cell:
        parts += list(view.cell)
    return "-".join(safe_filename_part(p) for p in parts) + f".{fmt}"


def board_export_for(
    user,
    benchmark: Benchmark,
    query: Mapping,
    fmt: str,
    *,
    result_url: Callable[[int], str],
) -> Export:
    """The board `user` sees for the query parameters `query` (task, split, sort, slice, cell:
    the page's), every row, as a `fmt` file; `result_url(submission id)` is each row's result
    page. Raises what `leaderboard_for` raises, and SelectionError for an unknown format (404),
    a task without a scored split (404) and a board withheld until the close (403)."""
    if fmt not in FORMATS:
        raise SelectionError(f"Unknown format '{fmt}': use csv or json.", status_code=404)
    view = leaderboard_from_query(user, benchmark, query, extra=("format",))
    view.require_board()
    board = view.board
    fields = board_fields(board)
    records = [board_record(board, row, result_url(row.submission.pk)) for row in board.rows]
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(fields)
        writer.writerows([csv_cell(record[f]) for f in fields] for record in records)
        content = out.getvalue().encode()
    else:
        payload = {
            "benchmark": benchmark.slug,
            "task": view.task.slug,
            "split": view.split.name,
            "sort": view.sort,
            "slice": view.cell and {"slice": view.cell[0], "cell": view.cell[1]},
            "columns": view.columns,
            "fields": fields,
            "rows": records,
        }
        content = json.dumps(payload, cls=DjangoJSONEncoder, indent=2).encode()
    return Export(content, FORMATS[fmt], board_filename(view, fmt))


# Hugging Face model cards: https://huggingface.co/docs/hub/model-cards (the `model-index`
# metadata). The Hub files text regression (STS-B, say) under text-classification.
HUB_TASK_TYPES = {REGRESSION: TEXT_CLASSIFICATION}


def model_index(submission: Submission, results: list[dict], *, result_url: str) -> dict | None:
    """The `model-index` of a submission from its visible evaluations (`visible_evaluations`'
    entries): one result per task and split whose scores are shown, its defined metric values;
    None when there is none."""
    benchmark = submission.benchmark
    entries = []
    for result in results:
        if result["withheld"]:
            continue
        evaluation = result["evaluation"]
        task = evaluation.task
        shown = result["metrics"] or {}
        metrics = [
            {"type": key, "value": value, "name": metric_display_name(key)}
            for key in evaluation_columns(evaluation)
            if (value := number((shown.get(key) or {}).get("value"))) is not None
        ]
        if not metrics:
            continue
        entries.append(
            {
                "task": {
                    "type": HUB_TASK_TYPES.get(task.type, task.type),
                    "name": task.type.replace("-", " ").title(),
                },
                "dataset": {
                    "name": f"{benchmark.title} ({task.title or task.slug})",
                    "type": benchmark.slug,
                    "config": task.slug,
                    "split": result["split"],
                },
                "metrics": metrics,
                "source": {"name": f"{benchmark.title} leaderboard", "url": result_url},
            }
        )
    if not entries:
        return None
    return {"model-index": [{"name": submission.display_name, "results": entries}]}


def model_index_yaml(submission: Submission, results: list[dict], *, result_url: str) -> str:
    """`model_index` as the YAML a model card's front matter takes; '' when there is none."""
    index = model_index(submission, results, result_url=result_url)
    if index is None:
        return ""
    return yaml.safe_dump(index, sort_keys=False, allow_unicode=True)


def model_index_for(user, submission: Submission, *, result_url: str) -> str:
    """The model index of a submission whose results `user` may see (the caller checked it).
    Raises SelectionError: 404 before it is scored, 403 while all its scores are withheld."""
    if submission.status != Submission.Status.SCORED:
        raise SelectionError("This submission has no scores yet.", status_code=404)
    results = visible_evaluations(user, submission)
    text = model_index_yaml(submission, results, result_url=result_url)
    if text:
        return text
    if any(result["withheld"] for result in results):
        raise SelectionError(
            "Scores of this submission are revealed when the benchmark closes.", status_code=403
        )
    raise SelectionError("This submission has no metric values to report.", status_code=404)
