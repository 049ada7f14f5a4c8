"""Model runs: what the sandbox costs, and the runner's inference beside the naive way.

    .venv/bin/python bench/sandbox.py [--rows 2000] [--layers 4] [--hidden 128] [--max-words 64]
                                      [--device cuda] [--only a|b]

(a) Start-up overhead: `python -c pass` in the sandbox's full layout (prlimit, bubblewrap,
    setpriv as run_model builds it) against the same interpreter as a plain subprocess, median
    of `--repeats`; and a whole `run_model` of a trivial custom-code model (one row: the runner,
    pyarrow, the job files) sandboxed against `unsafe_without_sandbox`.
(b) Throughput: the runner (`run_model`, length-sorted batches of 32, inference mode) on a BERT
    classifier of `--layers` × `--hidden` over `--rows` inputs of 1 to `--max-words` words,
    against a `transformers.pipeline("text-classification")` loop with one input per call on
    the same model and inputs, in this process (default settings) after one warm-up call. The
    runner's figure is its own (run.json: rows/s after the warm-up batch, model loaded); the
    end-to-end time (process start, imports, load, inference, writing) is printed beside it.
    `--device cuda` runs both on the GPU with a DistilBERT-size model (6 × 768) built from its
    config.
Models are random (seeded) and built here offline with a small WordPiece vocabulary; the
predictions of both ways are compared.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from scoring import sandbox  # noqa: E402
from scoring.sandbox.bwrap import bwrap_command  # noqa: E402
from scoring.sandbox.folders import prepare  # noqa: E402
from scoring.sandbox.uids import uid_slot  # noqa: E402
from tests.tiny_models import (  # noqa: E402
    build_text_classifier,
    build_tokenizer,
    sample_texts,
    write_predict_py,
)

LABELS = ["negative", "positive", "neutral"]


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def timed(command: list[str], **options) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, **options)
    return time.perf_counter() - started


def make_job(folder: Path, texts: list[str], **options) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.table({"id": [f"r{i}" for i in range(len(texts))], "text": texts})
    pq.write_table(table, folder / "inputs.parquet")
    job = {
        "task_type": "text-classification",
        "id_column": "id",
        "input_columns": ["text"],
        "labels": LABELS,
        "batch_size": 32,
        "max_new_tokens": 64,
        "allow_custom_code": False,
        "device": "cpu",
        **options,
    }
    (folder / "job.json").write_text(json.dumps(job))
    return folder


def startup(work: Path, repeats: int) -> None:
    print("(a) start-up overhead")
    boxed_ok = sandbox.available()
    plain = [timed([sys.executable, "-c", "pass"], env={}) for _ in range(repeats)]
    print(
        f"  plain subprocess, python -c pass:     {median_ms(plain):7.1f} ms (median of {repeats})"
    )
    if not boxed_ok:
        print(f"  sandbox not available: {sandbox.availability()[1]}")
        return
    job, model = work / "probe-job", work / "probe-model"
    job.mkdir()
    model.mkdir()
    limits = sandbox.Limits(wall_seconds=60)
    boxed = []
    for _ in range(repeats):
        # The very command run_model runs, with `python -c pass` instead of the runner.
        with uid_slot() as uid:
            prepare(job, model, uid)
            command = bwrap_command(job, model, limits, (), uid, ["-c", "pass"])
            boxed.append(timed(command, env={}, cwd="/"))
    added = median_ms(boxed) - median_ms(plain)
    print(f"  sandboxed (prlimit+bwrap+setpriv):    {median_ms(boxed):7.1f} ms  (+{added:.1f} ms)")

    write_predict_py(
        work / "trivial", "def predict(rows, model_dir):\n    return [0] * len(rows)\n"
    )
    walls = {True: [], False: []}
    for _ in range(max(5, repeats // 2)):
        for unsafe in (False, True):
            folder = make_job(work / f"trivial-job-{unsafe}", ["one row"], allow_custom_code=True)
            outcome = sandbox.run_model(
                job_dir=folder, model_dir=work / "trivial", limits=limits,
                unsafe_without_sandbox=unsafe,
            )  # fmt: skip
            assert outcome.ok, outcome
            walls[unsafe].append(outcome.wall_seconds)
    added = median_ms(walls[False]) - median_ms(walls[True])
    print(
        f"  run_model, trivial custom model:      {median_ms(walls[False]):7.1f} ms sandboxed, "
        f"{median_ms(walls[True]):.1f} ms unsandboxed (+{added:.1f} ms)"
    )


def build_distilbert(folder: Path) -> Path:
    """A DistilBERT-size classifier (6 layers × 768, the base config) with random weights."""
    import torch
    from transformers import DistilBertConfig, DistilBertForSequenceClassification

    torch.manual_seed(0)
    config = DistilBertConfig(
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={name: i for i, name in enumerate(LABELS)},
    )
    model = DistilBertForSequenceClassification(config).eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer = build_tokenizer("bert", model_max_length=512)
    tokenizer.model_input_names = ["input_ids", "attention_mask"]  # no token type ids
    tokenizer.init_kwargs["model_input_names"] = tokenizer.model_input_names
    tokenizer.save_pretrained(folder)
    return folder


def throughput(
    work: Path, rows: int, layers: int, hidden: int, max_words: int, device: str, threads: int
):
    import torch
    import transformers

    if device == "cuda":
        model = build_distilbert(work / "model")
        shape = "DistilBERT size (6 × 768)"
    else:
        model = build_text_classifier(
            work / "model", LABELS, layers=layers, hidden=hidden, heads=max(2, hidden // 64),
            intermediate=4 * hidden, max_length=256,
        )  # fmt: skip
        shape = f"BERT {layers} × {hidden}"
    parameters = sum(
        p.numel()
        for p in transformers.AutoModelForSequenceClassification.from_pretrained(model).parameters()
    )
    texts = sample_texts(rows, seed=42, lo=1, hi=max_words)
    words = [len(t.split()) for t in texts]
    print(
        f"\n(b) throughput on {device}: {shape}, {parameters / 1e6:.2f} M parameters, "
        f"{rows:,} inputs of {min(words)}-{max(words)} words (mean {statistics.mean(words):.0f})"
    )
    job = make_job(work / "job", texts, device=device)
    limits = sandbox.Limits(wall_seconds=1800, memory_bytes=16 * 2**30, threads=threads)
    boxed = sandbox.available()
    outcome = sandbox.run_model(
        job_dir=job, model_dir=model, limits=limits, gpus=(0,) if device == "cuda" else (),
        unsafe_without_sandbox=not boxed,
    )  # fmt: skip
    assert outcome.ok, outcome
    run = outcome.run
    print(
        f"  runner ({'sandboxed' if boxed else 'not sandboxed'}): {run['rows_per_second']:8.1f} "
        f"rows/s (after the warm-up batch; p50 {run['latency_ms_p50']:.1f} ms, "
        f"p95 {run['latency_ms_p95']:.1f} ms per row; dtype {run['dtype']}); end to end "
        f"{outcome.wall_seconds:.2f} s = {rows / outcome.wall_seconds:.1f} rows/s (load "
        f"{run['load_seconds']:.2f} s, peak RSS {run['peak_rss_mb']:.0f} MB)"
    )

    torch.set_num_threads(threads)
    pipe = transformers.pipeline(
        "text-classification", model=str(model), device=0 if device == "cuda" else -1
    )
    pipe(texts[0])
    started = time.perf_counter()
    naive = [pipe(text, truncation=True)[0]["label"] for text in texts]
    seconds = time.perf_counter() - started
    print(f"  pipeline, one input per call:  {rows / seconds:8.1f} rows/s ({seconds:.2f} s)")
    got = pq.read_table(job / "predictions.parquet").column("prediction").to_pylist()
    same = sum(a == b for a, b in zip(got, naive, strict=True))
    print(f"  same predictions: {same:,} of {rows:,}")
    print(
        f"  ratio: {run['rows_per_second'] / (rows / seconds):.1f}× (runner's inference), "
        f"{(rows / outcome.wall_seconds) / (rows / seconds):.1f}× (runner end to end)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--max-words", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--only", choices=["a", "b"], default=None)
    options = parser.parse_args()
    threads = options.threads or sandbox.Limits().thread_count()
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as folder:
        work = Path(folder)
        if options.only in (None, "a"):
            startup(work, options.repeats)
        if options.only in (None, "b"):
            throughput(
                work,
                options.rows,
                options.layers,
                options.hidden,
                options.max_words,
                options.device,
                threads,
            )


if __name__ == "__main__":
    main()
