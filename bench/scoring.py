"""Scoring throughput: the platform's vectorised path beside the naive way.

    .venv/bin/python bench/scoring.py [--scale 0.1] [--resamples 1000]

(a) a 1,000,000-row text-classification CSV: parse + check + accuracy + macro F1 + 3 slices +
    bootstrap CIs, end to end (and the check alone on the same rows shuffled); (b) 100,000 QA
    predictions (SQuAD EM/F1 + CIs); (c) 100,000 generation predictions (ROUGE-L + BLEU + CIs).
    The naive way is our `evaluate.Metric` modules called with `.compute()` on Python lists, one
    metric at a time, no CIs or slices; for (a) it runs on a subsample and is extrapolated
    linearly (said in the output). Reference libraries (scikit-learn, rouge_score, sacreBLEU) are
    timed too where cheap enough. Data is synthetic, generated here with fixed seeds.

Each benchmark also times score_split with and without the automatic slices
(`automatic=False`), the median of `--repeats` runs each, alternating, and prints the ratio
(target: at most 1.20): for the first submission on a split (its slices' cells measured), for
a worker that reads the cells the first scoring stored beside the split, and for later
submissions (the cells kept with the split's table in the worker).
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv  # noqa: F401  (pa.csv.write_csv)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scoring.evaluation import (  # noqa: E402
    gold_partitions,
    gold_partitions_seed,
    partitions_dump,
    partitions_load,
    score_split,
)
from scoring.metrics import load  # noqa: E402
from scoring.predictions import check_predictions, read_prediction_file  # noqa: E402

VOCABULARY = (
    "the a cat dog sat on mat movie plot acting was is great terrible fine not never no good "
    "bad city river Paris London 1990 it they we said would could"
)
WORDS = np.array(VOCABULARY.split())


def texts(rng: np.random.Generator, n: int, lo: int, hi: int, pool: int = 5000) -> pa.Array:
    """n random texts drawn from a pool (generating a million distinct texts would dominate)."""
    samples = [" ".join(rng.choice(WORDS, rng.integers(lo, hi))) for _ in range(pool)]
    return pa.array(samples).take(pa.array(rng.integers(0, pool, n)))


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def report(label: str, rows: int, seconds: float) -> None:
    print(f"  {label:<58} {seconds:8.2f} s  {rows / seconds:>12,.0f} rows/s")


SETTINGS = {"repeats": 5}


def automatic_overhead(spec: dict, gold: pa.Table, checked: pa.Table, resamples: int) -> None:
    """Median scoring time with and without the automatic slices, runs alternating so that
    drift of the machine hits both alike. Three times: the first submission on a split (a new
    copy of the gold table each run, so that its slices' cells are measured every time); a
    submission in a worker that has not seen the split, its cells read from what the first
    scoring stored beside the split (`submissions/split_cells.py`; the read is timed); and
    later submissions in a worker that keeps the split's table, and the cells with it."""
    repeats = SETTINGS["repeats"]

    def copy() -> pa.Table:
        return pa.Table.from_batches(gold.to_batches())

    stored = {a: partitions_dump(gold_partitions(spec, copy(), automatic=a)) for a in (False, True)}
    _, measure = timed(lambda: partitions_dump(gold_partitions(spec, copy(), automatic=True)))
    print(
        f"  the split's cells measured and stored once: {measure:.3f} s, "
        f"{len(stored[True]) / 1e6:.1f} MB"
    )

    def run(automatic: bool, mode: str) -> float:
        table = gold if mode == "kept" else copy()

        def score():
            if mode == "stored":
                cells = partitions_load(stored[automatic])
                gold_partitions_seed(spec, table, cells, automatic=automatic)
            return score_split(spec, table, checked, resamples=resamples, automatic=automatic)

        return timed(score)[1]

    modes = (
        ("first submission on a split (cells measured)", "fresh"),
        ("a new worker (cells read from the split's store)", "stored"),
        ("later submissions (cells kept with the table)", "kept"),
    )
    score_split(spec, gold, checked, resamples=resamples)  # the worker's steady state
    for label, mode in modes:
        times: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(repeats):
            for automatic in (False, True):
                times[automatic].append(run(automatic, mode))
        without, with_ = (float(np.median(times[a])) for a in (False, True))
        print(
            f"  automatic slices, {label}: median of {repeats}, {without:.3f} s without, "
            f"{with_:.3f} s with: ratio {with_ / without:.3f} (target <= 1.20)"
        )
    result = score_split(spec, gold, checked, resamples=resamples)
    auto = sorted({c["slice"] for c in result["slices"] if c.get("auto")})
    print(f"  automatic slices: {', '.join(auto)}")


def bench_classification(n: int, resamples: int, naive_rows: int) -> None:
    print(f"(a) text classification, {n:,} rows, {resamples} resamples")
    rng = np.random.default_rng(0)
    labels = ["negative", "neutral", "positive"]
    y = rng.integers(0, 3, n)
    p = np.where(rng.random(n) < 0.7, y, rng.integers(0, 3, n))
    ids = pa.array(np.char.add("id", np.arange(n).astype(str)))
    gold = pa.table(
        {
            "id": ids,
            "text": texts(rng, n, 1, 40),
            "label": pa.array(labels).take(pa.array(y)),
            "topic": pa.array(["billing", "delivery", "returns", "other"]).take(
                pa.array(rng.integers(0, 4, n))
            ),
        }
    )
    sink = io.BytesIO()
    pa.csv.write_csv(pa.table({"id": ids, "prediction": pa.array(labels).take(pa.array(p))}), sink)
    data = sink.getvalue()
    spec = {
        "slug": "sst",
        "type": "text-classification",
        "columns": {
            "id": "id",
            "inputs": ["text"],
            "label": "label",
            "labels": labels,
            "metadata": ["topic"],
        },
        "metrics": [{"name": "accuracy"}, {"name": "f1", "average": "macro"}],
        "slices": [
            {"name": "topic", "column": "topic"},
            {"name": "length", "column": "text", "measure": "words", "bins": [0, 10, 30]},
            {"name": "negation", "column": "text", "pattern": r"\b(not|never|no)\b"},
        ],
    }
    start = time.perf_counter()
    table, t_read = timed(lambda: read_prediction_file(io.BytesIO(data), "predictions.csv"))
    checked, t_check = timed(lambda: check_predictions(spec, gold["id"], table))
    result, t_score = timed(lambda: score_split(spec, gold, checked, resamples=resamples))
    total = time.perf_counter() - start
    report("parse CSV (pyarrow)", n, t_read)
    report("check ids and labels", n, t_check)
    report("score: 2 metrics + CIs + 3 slices + confusion", n, t_score)
    report("ours, end to end", n, total)
    # The file above lists the ids in gold order, which the check confirms with one comparison.
    # The same rows shuffled take the general path, a hash lookup of every id.
    shuffled = table.take(pa.array(np.random.default_rng(1).permutation(n)))
    _, t_shuffled = timed(lambda: check_predictions(spec, gold["id"], shuffled))
    report("check, same rows shuffled (not in the total)", n, t_shuffled)

    m = min(naive_rows, n)
    refs, preds = y[:m].tolist(), p[:m].tolist()
    _, t_acc = timed(lambda: load("accuracy").compute(predictions=preds, references=refs))
    _, t_f1 = timed(lambda: load("f1").compute(predictions=preds, references=refs, average="macro"))
    naive = (t_acc + t_f1) * n / m
    note = f" (measured on {m:,} rows, extrapolated)" if m < n else ""
    report(f"naive: evaluate .compute() accuracy + f1{note}", n, naive)
    from sklearn.metrics import accuracy_score, f1_score

    _, t_sk = timed(lambda: (accuracy_score(y, p), f1_score(y, p, average="macro")))
    report("reference: scikit-learn accuracy + f1 on int arrays", n, t_sk)
    print(f"  ratio naive metrics only / ours end to end: {naive / total:.1f}x")
    acc = result["metrics"]["accuracy"]
    print(f"  accuracy {acc['value']:.4f} CI {acc['ci']}, {len(result['slices'])} slice cells")
    automatic_overhead(spec, gold, checked, resamples)


def bench_qa(n: int, resamples: int) -> None:
    print(f"(b) question answering, {n:,} predictions, {resamples} resamples")
    rng = np.random.default_rng(1)
    pool = [" ".join(rng.choice(WORDS, rng.integers(1, 5))) for _ in range(5000)]
    answers = [
        [] if rng.random() < 0.3 else [pool[i] for i in rng.integers(0, 5000, rng.integers(1, 4))]
        for _ in range(n)
    ]
    preds = [
        (a[0] if a and rng.random() < 0.6 else "") if rng.random() < 0.8 else pool[i]
        for a, i in zip(answers, rng.integers(0, 5000, n), strict=True)
    ]
    ids = [str(i) for i in range(n)]
    wh = np.array(["what", "who", "when", "where", "why", "how", "which", "does"])
    questions = pa.array(
        [
            f"{w} {t}?"
            for w, t in zip(rng.choice(wh, n), texts(rng, n, 3, 12).to_pylist(), strict=True)
        ]
    )
    gold = pa.table(
        {
            "id": ids,
            "question": questions,
            "context": texts(rng, n, 60, 160),
            "answers": pa.array(answers, pa.list_(pa.string())),
        }
    )
    spec = {
        "slug": "qa",
        "type": "question-answering",
        "columns": {"id": "id", "inputs": ["question", "context"], "label": "answers"},
        "metrics": [{"name": "squad"}],
    }
    table = pa.table({"id": ids, "prediction": preds})
    checked, t_check = timed(lambda: check_predictions(spec, gold["id"], table))
    result, t_score = timed(lambda: score_split(spec, gold, checked, resamples=resamples))
    report("check ids and types", n, t_check)
    report("score: EM/F1 (+HasAns/NoAns) + CIs", n, t_score)
    ours = t_check + t_score
    _, naive = timed(lambda: load("squad").compute(predictions=preds, references=answers))
    report("naive: evaluate .compute() squad", n, naive)
    # The official SQuAD v2 scoring functions, row by row in Python, as kept in the reference
    # test suite (tests/scoring_pure/test_squad_metrics.py).
    from tests.scoring_pure.test_squad_metrics import official

    _, reference = timed(lambda: official(preds, answers))
    report("reference: official SQuAD v2 script functions (no CIs)", n, reference)
    print(f"  ratio naive / ours: {naive / ours:.2f}x (ours includes {resamples} resamples)")
    print(f"  ratio reference / ours: {reference / ours:.2f}x")
    print(
        f"  exact_match {result['metrics']['exact_match']['value']:.2f}"
        f" CI {result['metrics']['exact_match']['ci']}"
    )
    automatic_overhead(spec, gold, checked, resamples)


def bench_generation(n: int, resamples: int) -> None:
    print(f"(c) text generation, {n:,} predictions, ROUGE-L + BLEU, {resamples} resamples")
    rng = np.random.default_rng(2)
    refs = texts(rng, n, 8, 30, pool=n).to_pylist()
    hyps = texts(rng, n, 8, 30, pool=n).to_pylist()
    ids = [str(i) for i in range(n)]
    gold = pa.table({"id": ids, "source": texts(rng, n, 10, 60), "reference": refs})
    spec = {
        "slug": "gen",
        "type": "text-generation",
        "columns": {"id": "id", "inputs": ["source"], "label": "reference"},
        "metrics": [{"name": "rouge", "rouge_types": ["rougeL"]}, {"name": "bleu"}],
    }
    table = pa.table({"id": ids, "prediction": hyps})
    checked, t_check = timed(lambda: check_predictions(spec, gold["id"], table))
    result, t_score = timed(lambda: score_split(spec, gold, checked, resamples=resamples))
    report("check ids and types", n, t_check)
    report("score: ROUGE-L + BLEU + CIs", n, t_score)
    ours = t_check + t_score
    _, t_rouge = timed(
        lambda: load("rouge").compute(predictions=hyps, references=refs, rouge_types=["rougeL"])
    )
    _, t_bleu = timed(lambda: load("bleu").compute(predictions=hyps, references=refs))
    naive = t_rouge + t_bleu
    report("naive: evaluate .compute() rouge(L) + bleu", n, naive)
    m = min(n, 5000)
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"])
    _, t_ref = timed(lambda: [scorer.score(r, h) for r, h in zip(refs[:m], hyps[:m], strict=True)])
    report(f"reference: rouge_score rougeL (on {m:,} rows, extrapolated)", n, t_ref * n / m)
    import sacrebleu

    _, t_sb = timed(lambda: sacrebleu.corpus_bleu(hyps, [refs]))
    report("reference: sacrebleu.corpus_bleu (no CIs)", n, t_sb)
    print(f"  ratio naive / ours: {naive / ours:.2f}x (ours includes {resamples} resamples)")
    print(
        f"  rougeL {result['metrics']['rougeL']['value']:.4f}"
        f" bleu {result['metrics']['bleu']['value']:.2f} CI {result['metrics']['bleu']['ci']}"
    )
    automatic_overhead(spec, gold, checked, resamples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every size by this")
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--only", choices=["a", "b", "c"], help="run one benchmark")
    parser.add_argument("--repeats", type=int, default=5, help="runs per median")
    args = parser.parse_args()
    SETTINGS["repeats"] = max(1, args.repeats)
    size = lambda rows: max(1, int(rows * args.scale))  # noqa: E731
    if args.only in (None, "a"):
        bench_classification(size(1_000_000), args.resamples, naive_rows=size(100_000))
    if args.only in (None, "b"):
        bench_qa(size(100_000), args.resamples)
    if args.only in (None, "c"):
        bench_generation(size(100_000), args.resamples)


if __name__ == "__main__":
    main()
