"""Reading and checking prediction files (docs/formats.md, "Prediction files"): `reading`
turns a file into a table within `Limits`, `checking` holds it against a task's ids and type.

A prediction file is CSV, JSON lines (or a JSON array) or Parquet, optionally gzip-compressed,
with an `id` and a `prediction` column (and optionally `task`). Reading is done by pyarrow; every
problem becomes a `PredictionFileError` whose messages a participant can act on. Messages quote
ids and the participant's own predictions, never a gold value: they may be about a hidden split.

Files come from anyone, so reading is bounded by `Limits`: the decoded size, the rows and the
columns are checked from metadata before anything is decoded where the format has it (Parquet's
footer) and counted as the file is decoded otherwise (gzip is inflated in pieces, CSV lines are
counted before parsing), and only the `id`, `prediction` and `task` columns are ever built. No
file, however crafted, makes a check hold more than about three times `Limits.max_bytes`.
"""

from scoring.predictions.checking import (
    check_predictions,
    coverage_messages,
    normalise_predictions,
    raise_row_errors,
    same_ids,
)
from scoring.predictions.common import (
    DEFAULT_LIMITS,
    FORMATS,
    Limits,
    PredictionFileError,
    as_array,
)
from scoring.predictions.reading import detect_format, read_prediction_file

__all__ = [
    "DEFAULT_LIMITS",
    "FORMATS",
    "Limits",
    "PredictionFileError",
    "as_array",
    "check_predictions",
    "coverage_messages",
    "detect_format",
    "normalise_predictions",
    "raise_row_errors",
    "read_prediction_file",
    "same_ids",
]
