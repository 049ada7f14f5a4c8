"""Reads for per-example analysis: the error browser of one evaluation (public splits only) and
the comparison of two to four submissions on one task and split.

What they may show (docs/formats.md, "Breakdowns and leakage rules"):
- the error browser shows single rows (inputs, gold, prediction, score, slice cells) of PUBLIC
  splits only; a hidden split's rows are never read for it, a train split is not scored, and a
  split whose scores are withheld until the close is refused like everywhere else;
- a comparison shows overall metrics and slice cells as `selectors.visible_evaluations` publishes
  them (withholding, hidden-split suppression), with paired-bootstrap intervals and p-values
  of the deltas computed on the server from the split's gold table (never output); win/tie/loss
  counts and the rows where submissions disagree are per-example, so public splits only.

The package: `examples` reads the split's rows, images and the per-example artifact; `targets`
settles which evaluation a view is about; `browser` filters and pages one evaluation's rows;
`highlighting` decorates them for the page; `compared`, `bootstrap`, `disagreements` and
`comparisons` make up a comparison. Callers use the names re-exported here.
"""

from submissions.analysis.bootstrap import BOOTSTRAP_CACHE_SECONDS, _bootstrap_module
from submissions.analysis.browser import (
    CORRECT_VALUES,
    MAX_QUERY_CHARS,
    PAGE_SIZE,
    SORTS,
    ErrorBrowser,
    Query,
    error_browser,
    example_image_url,
    page_number,
)
from submissions.analysis.compared import (
    MAX_COMPARED,
    MIN_COMPARED,
    Compared,
    compare_choices,
    compare_task_split,
    compared_submissions,
    parse_submission_ids,
    split_withheld,
)
from submissions.analysis.comparisons import (
    Comparison,
    comparison_for,
    comparison_payload,
    primary_direction,
)
from submissions.analysis.disagreements import PerExample
from submissions.analysis.examples import (
    CELL_PREFIX,
    IMAGE_SIGNATURES,
    Examples,
    ExamplesUnavailable,
    SplitRows,
    clear_caches,
    example_rows,
    examples_for,
    image_bytes,
    sniff_image,
    split_rows,
)
from submissions.analysis.highlighting import (
    as_text,
    decorate_for_page,
    highlight_context,
    qa_columns,
)
from submissions.analysis.targets import Target, browsable, error_target, submission_for
from submissions.selectors import SelectionError

__all__ = [
    "BOOTSTRAP_CACHE_SECONDS",
    "CELL_PREFIX",
    "CORRECT_VALUES",
    "IMAGE_SIGNATURES",
    "MAX_COMPARED",
    "MAX_QUERY_CHARS",
    "MIN_COMPARED",
    "PAGE_SIZE",
    "SORTS",
    "Compared",
    "Comparison",
    "ErrorBrowser",
    "Examples",
    "ExamplesUnavailable",
    "PerExample",
    "Query",
    "SelectionError",
    "SplitRows",
    "Target",
    "_bootstrap_module",
    "as_text",
    "browsable",
    "clear_caches",
    "compare_choices",
    "compare_task_split",
    "compared_submissions",
    "comparison_for",
    "comparison_payload",
    "decorate_for_page",
    "error_browser",
    "error_target",
    "example_image_url",
    "example_rows",
    "examples_for",
    "highlight_context",
    "image_bytes",
    "page_number",
    "parse_submission_ids",
    "primary_direction",
    "qa_columns",
    "sniff_image",
    "split_rows",
    "split_withheld",
    "submission_for",
]
