"""The paired bootstrap of a comparison's deltas, computed on the server and cached.

`_bootstrap` runs `scoring.compare.paired_bootstrap` against the first compared submission on
the split's gold table (read here, never output) and each submission's per-example
predictions, and keeps the result in Django's cache for a week, keyed by split fingerprint,
task spec, evaluation files and number of resamples; when it cannot be computed it gives the
reason instead. `scoring.compare` is imported when first needed, through the package attribute
`submissions.analysis._bootstrap_module`, so that replacing that attribute (as the tests do)
reaches every caller, the win/tie/loss counts included.
"""

from __future__ import annotations

import hashlib
import json
import logging

import pyarrow as pa
from django.conf import settings
from django.core.cache import cache

from benchmarks.models import Split, Task
from scoring.tasktypes import TOKEN_CLASSIFICATION
from submissions.analysis.compared import Compared
from submissions.analysis.examples import ExamplesUnavailable, _string_ids, examples_for
from submissions.uploads import split_table

logger = logging.getLogger(__name__)

BOOTSTRAP_CACHE_SECONDS = 7 * 24 * 3600


def _bootstrap_module():
    from scoring import compare  # another engineer's module: imported when first needed

    return compare


def compare_module():
    """`scoring.compare` as the package's `_bootstrap_module` gives it (a patch of
    `submissions.analysis._bootstrap_module` applies here too)."""
    from submissions import analysis

    return analysis._bootstrap_module()


def _bootstrap(task: Task, split: Split, compared: list[Compared]) -> tuple[dict | None, str]:
    """Paired-bootstrap deltas against the first submission, cached by evaluation and file.
    (None, reason) when it cannot be computed."""
    evaluations = [c.evaluation for c in compared]
    missing = [c.submission.pk for c in compared if not c.evaluation.examples]
    if missing:
        names = ", ".join(f"#{pk}" for pk in missing)
        return None, (
            f"No per-example results were kept for {names} (scored before they were): "
            "no intervals or p-values for the deltas."
        )
    spec = task.spec()
    resamples = settings.BOOTSTRAP_RESAMPLES
    key_data = [
        split.pk,
        split.fingerprint,
        spec["metrics"],
        spec["columns"],
        [(e.pk, e.examples.name) for e in evaluations],
        resamples,
    ]
    digest = hashlib.sha256(json.dumps(key_data, sort_keys=True).encode()).hexdigest()
    key = f"analysis:bootstrap:v1:{digest}"
    cached = cache.get(key)
    if cached is not None:
        return cached, ""
    try:
        columns = [task.id_column, task.label_column]
        if task.type == TOKEN_CLASSIFICATION:
            columns += list(task.input_columns)
        gold = split_table(split, tuple(dict.fromkeys(columns)))
        ids = _string_ids(gold[task.id_column])
        predictions = []
        for evaluation in evaluations:
            examples = examples_for(evaluation, ids)
            if examples.prediction is None:
                raise ExamplesUnavailable("The per-example results hold no predictions.")
            predictions.append(examples.prediction)
        result = compare_module().paired_bootstrap(
            spec, gold, predictions, resamples=resamples, seed=0
        )
    except ExamplesUnavailable as exc:
        return None, f"{exc} No intervals or p-values for the deltas."
    except (ImportError, OSError, ValueError, TypeError, pa.ArrowException) as exc:
        logger.warning("Paired bootstrap on split %s failed: %s", split.pk, type(exc).__name__)
        return None, "The paired bootstrap could not be computed."
    cache.set(key, result, BOOTSTRAP_CACHE_SECONDS)
    return result, ""
