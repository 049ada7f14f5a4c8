"""Intervals of slice cells for corpus-level metrics (scoring/intervals.py): the delta method for
functions of summed per-row statistics (BLEU, chrF, seqeval) checked against a closed form and
against the percentile bootstrap of the cell's rows, Fisher's z for correlations checked against
scipy, and entity-type cells against the same computation on dense per-sentence statistics."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats as scipy_stats

from scoring import bootstrap
from scoring.bootstrap import cell_confusion_intervals, confusion_intervals, sum_intervals
from scoring.evaluation import score_split
from scoring.intervals import Z95, correlation_intervals, linearised_intervals
from scoring.metrics.bleu import BleuScorer
from scoring.metrics.tagging import SeqevalScorer, example_stats, from_sums
from tests.scoring_pure.task_specs import task


def ratio(sums: np.ndarray) -> dict[str, np.ndarray]:
    return {"mean": sums[..., 0] / sums[..., 1]}


def test_the_delta_interval_of_a_mean_is_the_normal_one():
    # T = Σx / Σ1 is the mean: se² = Σ (x - x̄)² / n², the plug-in normal interval.
    rng = np.random.default_rng(5)
    x = rng.normal(3.0, 2.0, 400)
    codes = np.repeat([0, 1], 200)
    rows = np.column_stack([x, np.ones_like(x)])
    found = linearised_intervals(rows, codes, 2, ratio, keys=["mean"], bounds=(-np.inf, None))
    for cell in (0, 1):
        part = x[codes == cell]
        half = Z95 * part.std(ddof=0) / math.sqrt(len(part))
        assert found["mean"][cell] == pytest.approx([part.mean() - half, part.mean() + half])


def test_the_delta_interval_of_a_ratio_of_sums_has_the_textbook_variance():
    # T = Σa / Σb: to first order se² = Σ (a - T·b)² / (Σb)².
    rng = np.random.default_rng(6)
    b = rng.integers(1, 20, 300).astype(float)
    a = rng.binomial(b.astype(int), 0.4).astype(float)
    codes = np.zeros(300, np.int64)
    found = linearised_intervals(np.column_stack([a, b]), codes, 1, ratio, keys=["mean"])
    t = a.sum() / b.sum()
    se = math.sqrt(((a - t * b) ** 2).sum()) / b.sum()
    assert found["mean"][0] == pytest.approx([t - Z95 * se, t + Z95 * se], rel=1e-6)


def seqeval_data(n: int, seed: int) -> tuple[list[list[str]], list[list[str]]]:
    """n sentences of PER/LOC entities, about 70% predicted right, the rest mistyped or missed."""
    rng = np.random.default_rng(seed)
    gold, pred = [], []
    for _ in range(n):
        g, p = [], []
        for _ in range(int(rng.integers(1, 8))):
            if rng.random() < 0.4:
                kind = "PER" if rng.random() < 0.6 else "LOC"
                g.append(f"B-{kind}")
                roll = rng.random()
                p.append(f"B-{kind}" if roll < 0.7 else ("O" if roll < 0.85 else "B-ORG"))
            else:
                g.append("O")
                p.append("B-PER" if rng.random() < 0.05 else "O")
        gold.append(g)
        pred.append(p)
    return gold, pred


def test_seqeval_cell_intervals_agree_with_the_bootstrap_of_the_cell():
    gold, pred = seqeval_data(1200, seed=1)
    rows = example_stats(pred, gold)
    codes = np.arange(len(gold)) % 3  # three cells of 400 sentences
    keys = ["overall_precision", "overall_recall", "overall_f1"]
    found = linearised_intervals(rows, codes, 3, from_sums, keys=keys, bounds=(0.0, 1.0))
    for cell in range(3):
        boot = sum_intervals(rows[codes == cell], from_sums, resamples=4000, seed=cell)
        for key in keys:
            low, high = found[key][cell]
            b_low, b_high = boot[key]
            width = b_high - b_low
            assert abs(low - b_low) < 0.1 * width and abs(high - b_high) < 0.1 * width, key


def test_bleu_cell_intervals_agree_with_the_bootstrap_of_the_cell():
    rng = np.random.default_rng(2)
    words = [f"w{i}" for i in range(30)]
    refs, hyps = [], []
    for _ in range(600):
        ref = list(rng.choice(words, int(rng.integers(5, 15))))
        hyp = [w if rng.random() < 0.7 else str(rng.choice(words)) for w in ref]
        refs.append(" ".join(ref))
        hyps.append(" ".join(hyp[: len(hyp) - int(rng.integers(0, 2))]))
    scorer = BleuScorer({"name": "bleu"}, hyps, [[r] for r in refs])
    codes = np.arange(600) % 2
    cells = scorer.cell_values(codes, 2)
    found = scorer.corpus_intervals(codes, 2, cells, ["bleu"], resamples=0, seed=0)["bleu"]
    for cell in (0, 1):
        low, high = found[cell]
        assert low < cells[cell]["bleu"] < high
        boot = sum_intervals(scorer.stats[codes == cell], scorer.finalize, resamples=4000)["bleu"]
        width = boot[1] - boot[0]
        assert abs(low - boot[0]) < 0.12 * width and abs(high - boot[1]) < 0.12 * width


def test_intervals_stay_in_the_metric_range_and_need_two_rows():
    rows = np.array([[1.0, 1.0], [1.0, 1.0], [0.0, 1.0], [1.0, 1.0]])
    found = linearised_intervals(rows, np.array([0, 0, 0, 1]), 2, ratio, keys=["mean"],
                                 bounds=(0.0, 1.0))  # fmt: skip
    low, high = found["mean"][0]
    assert 0.0 <= low < 2 / 3 < high == 1.0  # clipped at the top
    assert found["mean"][1] is None  # one row


def test_correlation_intervals_are_fisher_z_as_scipy_computes_them():
    rng = np.random.default_rng(4)
    x = rng.normal(size=50)
    y = x + rng.normal(size=50)
    r = scipy_stats.pearsonr(x, y)
    (found,) = correlation_intervals([r.statistic], np.array([50]))
    expected = r.confidence_interval(0.95)
    assert found == pytest.approx([expected.low, expected.high], rel=1e-6)
    rho = scipy_stats.spearmanr(x, y).statistic
    (found,) = correlation_intervals([rho], np.array([50]), spearman=True)
    se = math.sqrt(1.06 / 47)
    assert found == pytest.approx([math.tanh(math.atanh(rho) - Z95 * se),
                                   math.tanh(math.atanh(rho) + Z95 * se)])  # fmt: skip
    assert correlation_intervals([0.5, 1.0, None], np.array([3, 10, 10])) == [None] * 3


def test_entity_type_intervals_equal_the_dense_computation():
    gold, pred = seqeval_data(500, seed=3)
    scorer = SeqevalScorer({"name": "seqeval"}, pred, gold)
    by_type = {name: (n, cis) for name, n, _, cis in scorer.entity_type_cells()}
    for kind in ("LOC", "PER"):
        # Dense per-sentence statistics of one type: the tags of other types become "O".
        only = [[t if t.endswith(kind) else "O" for t in s] for s in gold]
        only_pred = [[t if t.endswith(kind) else "O" for t in s] for s in pred]
        rows = example_stats(only_pred, only)
        rows[:, 3:] = 0.0  # token accuracy has no per-type meaning
        keys = ["overall_precision", "overall_recall", "overall_f1"]
        dense = linearised_intervals(
            rows, np.zeros(len(rows), np.int64), 1, from_sums, keys=keys, bounds=(0.0, 1.0)
        )
        assert by_type[kind][0] == rows[:, 0].sum()
        for key in keys:
            assert by_type[kind][1][key] == pytest.approx(dense[key][0], rel=1e-6)


def test_score_split_gives_generation_and_tagging_cells_intervals():
    n = 80
    rng = np.random.default_rng(9)
    refs = [" ".join(rng.choice(["a", "b", "c", "d", "e"], 8)) for _ in range(n)]
    gold = pa.table({"id": [f"r{i}" for i in range(n)], "source": refs, "target": refs,
                     "topic": ["x" if i % 2 else "y" for i in range(n)]})  # fmt: skip
    hyps = [r if i % 3 else r[::-1] for i, r in enumerate(refs)]
    spec = task("text-generation", "target", ["source"], metrics=["bleu", "chrf"],
                slices=[{"name": "topic", "column": "topic"}])  # fmt: skip
    spec["columns"]["metadata"] = ["topic"]
    result = score_split(spec, gold, pa.table({"id": gold["id"], "prediction": hyps}),
                         resamples=20, automatic=False)  # fmt: skip
    assert result["slices"]
    for cell in result["slices"]:
        for key in ("bleu", "chrf"):
            metric = cell["metrics"][key]
            low, high = metric["ci"]
            assert 0.0 <= low <= metric["value"] <= high <= 100.0


def test_cells_confusion_bootstrap_in_one_draw_matches_one_cell_at_a_time(monkeypatch):
    rng = np.random.default_rng(8)
    cms = rng.integers(0, 40, size=(4, 3, 3)) + np.eye(3, dtype=int) * 60
    cms[3] = 0
    cms[3, 0, 0] = 1  # one row: no interval

    def statistic(tp, t_sum, p_sum):
        return {"recall": (tp / np.maximum(t_sum, 1)).mean(axis=-1)}

    together = cell_confusion_intervals(cms, statistic, resamples=4000, seed=0)
    assert together[3] == {}
    for cell in range(3):
        alone = confusion_intervals(cms[cell], statistic, resamples=4000, seed=cell + 1)
        width = alone["recall"][1] - alone["recall"][0]
        assert together[cell]["recall"] == pytest.approx(alone["recall"], abs=0.08 * width)
    # Many classes: one cell at a time over the non-zero entries, the same distribution.
    monkeypatch.setattr(bootstrap, "CHUNK_ENTRIES", 3000)  # below 2 cells x 40²: the fallback
    drawn = []
    monkeypatch.setattr(bootstrap, "confusion_intervals", lambda *a, **k: drawn.append(1) or {})
    many = np.zeros((2, 40, 40), dtype=int)
    many[:, np.arange(40), np.arange(40)] = 30
    many[:, np.arange(40), (np.arange(40) + 1) % 40] = 10
    cell_confusion_intervals(many, statistic, resamples=300, seed=0)
    assert len(drawn) == 2
    monkeypatch.undo()
    monkeypatch.setattr(bootstrap, "CHUNK_ENTRIES", 3000)
    wide = cell_confusion_intervals(many, statistic, resamples=300, seed=0)
    assert all(low < 0.75 < high for low, high in (cell["recall"] for cell in wide))
