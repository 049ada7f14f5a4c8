"""How a submission's breakdown and metrics read on its page and on the leaderboard: gaps coloured
by the metric's direction (for MAE a higher value is worse), one number of decimals for a
metric's value, interval and gaps, signed gaps with a real minus sign, and human metric names
in headers with the raw key kept in tooltips, sort links and the API."""

import re
from html import unescape

from django.test import SimpleTestCase
from django.urls import reverse

from benchmarks.models import Benchmark, Split
from benchmarks.templatetags.platform_tags import (
    MINUS,
    format_number,
    metric_cell,
    metric_interval,
    metric_value,
)
from scoring.tasktypes import METRICS, key_scales, metric_display_name, with_scales
from tests.base import PlatformTestCase, make_scored_submission, make_split, make_task

SUPPRESSED = "suppressed (too few rows on a hidden split)"


def cell(name: str, n: int, key: str, value: float | None) -> dict:
    return {"slice": "topic", "cell": name, "n": n, "metrics": {key: {"value": value}}}


def regression_rows(prefix: str, n: int) -> list[dict]:
    return [
        {
            "id": f"{prefix}-{i:03d}",
            "text": f"sample {i}",
            "label": float(i % 5),
            "topic": ["food", "service"][i % 2],
        }
        for i in range(n)
    ]


def slice_rows(content: str) -> dict[str, str]:
    """Breakdown rows of the page by cell name → the row's HTML (after the cell's name)."""
    tables = re.findall(r'<table class="table compact slices">(.*?)</table>', content, re.S)
    rows = {}
    for table in tables:
        for name, rest in re.findall(r"<tr>\s*<td>(.*?)</td>(.*?)</tr>", table, re.S):
            rows[unescape(name)] = rest
    return rows


def gap_cell(row: str) -> tuple[str, str]:
    """(classes, text) of a breakdown row's gap cell."""
    match = re.search(r'<td class="num (gap[^"]*)"[^>]*>(.*?)</td>', row, re.S)
    assert match, row
    return match.group(1), unescape(match.group(2))


def decimals(text: str) -> int:
    number = text.split("e")[0]
    return len(number.split(".")[1]) if "." in number else 0


def numbers(text: str) -> list[str]:
    """The numbers of a text as written (sign included, real minus sign or not)."""
    return re.findall(r"[+\-\u2212]?\d+(?:\.\d+)?(?:e[+\-\u2212]\d+)?", text)


class RegressionBreakdownTests(PlatformTestCase):
    """MAE: lower is better, so a cell with a higher MAE than overall is worse."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.regression = Benchmark.objects.create(slug="ratings", title="Ratings")
        task = make_task(
            cls.regression,
            "rating",
            type="regression",
            metadata_columns=["topic"],
            metrics=[{"name": "mse"}, {"name": "mae"}, {"name": "pearson"}],
            primary_metric="mae",
            slices=[{"name": "topic", "column": "topic"}],
        )
        make_split(task, "dev", Split.Role.PUBLIC, regression_rows("dev", 10))
        cls.submission = make_scored_submission(
            cls.regression,
            cls.alice,
            {"dev": {"mse": 0.3, "mae": 0.5, "pearson": 0.7}},
            name="regressor",
        )

    def set_evaluation(self, **fields):
        evaluation = self.submission.evaluations.get()
        for name, value in fields.items():
            setattr(evaluation, name, value)
        evaluation.save()

    def page(self) -> str:
        self.client.force_login(self.alice)
        response = self.client.get(reverse("submission_detail", args=[self.submission.pk]))
        self.assertEqual(response.status_code, 200)
        return response.content.decode()

    def test_a_higher_mae_than_overall_is_worse_and_a_lower_one_better(self):
        self.set_evaluation(slices=[cell("food", 5, "mae", 0.8), cell("service", 5, "mae", 0.25)])
        content = self.page()
        rows = slice_rows(content)
        self.assertEqual(gap_cell(rows["food"]), ("gap gap-worse", "+0.3000"))
        self.assertEqual(gap_cell(rows["service"]), ("gap gap-better", f"{MINUS}0.2500"))
        self.assertIn('title="Worse than overall (lower is better)"', rows["food"])
        # Worst first: the higher error comes first.
        self.assertLess(content.index("<td>food</td>"), content.index("<td>service</td>"))
        self.assertNotIn('class="num neg"', content)
        self.assertNotIn('class="num pos"', content)

    def test_a_cell_equal_to_overall_is_neither_better_nor_worse(self):
        self.set_evaluation(slices=[cell("food", 5, "mae", 0.5), cell("service", 5, "mae", None)])
        rows = slice_rows(self.page())
        self.assertEqual(gap_cell(rows["food"]), ("gap gap-even", "0.0000"))
        self.assertEqual(gap_cell(rows["service"])[1], "—")
        self.assertNotIn("gap-worse", rows["service"])
        self.assertNotIn("gap-better", rows["service"])

    def test_value_interval_and_gap_of_an_unbounded_metric_share_their_decimals(self):
        self.set_evaluation(
            metrics={
                "mse": {"value": 0.0003, "ci": [0.0002, 0.0004]},
                "mae": {"value": 0.01234, "ci": [0.0101, 0.015]},
                "pearson": {"value": 0.7, "ci": [0.61, 0.79]},
            },
            slices=[cell("food", 5, "mae", 1.5), cell("service", 5, "mae", 0.011)],
        )
        content = self.page()
        # The metrics table: four significant digits of the value, the same decimals for its CI.
        self.assertIn(">0.01234</td>", content)
        self.assertIn("[0.01010, 0.01500]", content)
        self.assertIn(">0.700</td>", content)
        self.assertIn("[0.610, 0.790]", content)
        self.assertIn(f">3.000e{MINUS}04</td>", content)
        self.assertIn(f"[2.000e{MINUS}04, 4.000e{MINUS}04]", content)
        # The breakdown: cell values and gaps with the decimals of the overall value.
        rows = slice_rows(content)
        self.assertIn(">1.50000<", rows["food"])
        self.assertEqual(gap_cell(rows["food"]), ("gap gap-worse", "+1.48766"))
        self.assertIn(">0.01100<", rows["service"])
        self.assertEqual(gap_cell(rows["service"]), ("gap gap-better", f"{MINUS}0.00134"))

    def test_headers_show_human_names_with_the_raw_key_in_the_title(self):
        self.set_evaluation(slices=[cell("food", 5, "mae", 0.8), cell("service", 5, "mae", 0.2)])
        content = self.page()
        for key, name in (("mse", "MSE"), ("mae", "MAE"), ("pearson", "Pearson r")):
            self.assertIn(f'<span class="metric-name" title="{key}">{name}</span>', content)
        slices = re.search(r'<table class="table compact slices">.*?</thead>', content, re.S)
        self.assertIn('<span class="metric-name" title="mae">MAE</span>', slices.group(0))
        self.assertIn("(lower is better), worst cells first", content)
        self.assertNotIn("<td>mae", content)

    def test_the_leaderboard_names_metrics_and_keeps_raw_keys_in_its_links(self):
        self.set_evaluation(metrics={"mae": {"value": 0.01234, "ci": [0.0101, 0.015]}})
        response = self.client.get(reverse("leaderboard", args=["ratings"]))
        content = response.content.decode()
        self.assertIn("sort=mae", content)
        self.assertIn('<span class="metric-name" title="mae">MAE</span>', content)
        self.assertIn('title="Sort by MAE (lower is better)"', content)
        self.assertIn('0.01234<span class="ci"> ± 0.00245</span>', content)
        self.assertIn("95% CI [0.01010, 0.01500]", content)

    def test_the_api_keeps_raw_keys_and_numbers(self):
        self.set_evaluation(slices=[cell("food", 5, "mae", 0.8), cell("service", 5, "mae", 0.2)])
        self.client.force_login(self.alice)
        body = self.client.get(f"/api/v1/submissions/{self.submission.pk}/breakdown/").json()
        self.assertEqual(body["primary"], "mae")
        self.assertEqual(set(body["overall"]), {"mse", "mae", "pearson"})
        self.assertAlmostEqual(body["slices"][0]["gap"], 0.3)


class ClassificationBreakdownTests(PlatformTestCase):
    """Accuracy: higher is better, so the same mapping reversed."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.scored = make_scored_submission(
            cls.benchmark,
            cls.alice,
            {"dev": {"accuracy": 0.8, "f1_macro": 0.7}, "test": {"accuracy": 0.75}},
            name="classifier",
        )

    def page(self) -> str:
        self.client.force_login(self.alice)
        response = self.client.get(reverse("submission_detail", args=[self.scored.pk]))
        self.assertEqual(response.status_code, 200)
        return response.content.decode()

    def test_a_higher_accuracy_than_overall_is_better_and_a_lower_one_worse(self):
        evaluation = self.scored.evaluations.get(split__name="dev")
        evaluation.slices = [cell("food", 5, "accuracy", 0.9), cell("service", 5, "accuracy", 0.6)]
        evaluation.save()
        content = self.page()
        rows = slice_rows(content)
        self.assertEqual(gap_cell(rows["food"]), ("gap gap-better", "+0.100"))
        self.assertEqual(gap_cell(rows["service"]), ("gap gap-worse", f"{MINUS}0.200"))
        self.assertIn('title="Worse than overall (higher is better)"', rows["service"])
        self.assertLess(content.index("<td>service</td>"), content.index("<td>food</td>"))

    def test_value_interval_and_gap_share_three_decimals(self):
        evaluation = self.scored.evaluations.get(split__name="dev")
        evaluation.metrics["accuracy"]["ci"] = [0.7, 0.9]
        evaluation.slices = [cell("food", 5, "accuracy", 0.85), cell("service", 5, "accuracy", 1)]
        evaluation.save()
        content = self.page()
        self.assertIn(">0.800</td>", content)
        self.assertIn("[0.700, 0.900]", content)
        rows = slice_rows(content)
        self.assertIn(">0.850<", rows["food"])
        self.assertEqual(gap_cell(rows["food"])[1], "+0.050")
        self.assertIn(">1.000<", rows["service"])
        self.assertEqual(gap_cell(rows["service"])[1], "+0.200")

    def test_headers_show_human_names_with_the_raw_key_in_the_title(self):
        content = self.page()
        self.assertIn('<span class="metric-name" title="accuracy">Accuracy</span>', content)
        self.assertIn('<span class="metric-name" title="f1_macro">F1 (macro)</span>', content)
        board = self.client.get(reverse("leaderboard", args=["sentiment"])).content.decode()
        self.assertIn("?task=sst&amp;split=test&amp;sort=f1_macro", board)
        self.assertIn('<span class="metric-name" title="f1_macro">F1 (macro)</span>', board)
        self.assertIn('<span class="metric-name" title="accuracy">Accuracy</span>', board)

    def test_hidden_split_cells_are_still_suppressed_without_values(self):
        evaluation = self.scored.evaluations.get(split__name="test")
        evaluation.slices = [
            cell("food", 3, "accuracy", 0.123),
            cell("service", 7, "accuracy", 0.456),
        ]
        evaluation.save()
        content = self.page()
        self.assertEqual(content.count(SUPPRESSED), 2)
        self.assertNotIn("0.123", content)
        self.assertNotIn("0.456", content)
        rows = slice_rows(content)
        for name in ("food", "service"):
            self.assertIn(SUPPRESSED, rows[name])
            self.assertNotIn("gap", rows[name])
            self.assertNotIn(">3<", rows[name])
            self.assertNotIn(">7<", rows[name])
        # The suppression text still spans the three value columns, and the row count of a
        # suppressed cell is not published.
        self.assertIn(f'<td class="num muted" colspan="3">{SUPPRESSED}</td>', content)


class FormattingTests(SimpleTestCase):
    def entries(self, metric: dict, stored: dict) -> dict:
        return with_scales(stored, key_scales([metric]))

    def test_each_scale_keeps_one_number_of_decimals_across_value_and_interval(self):
        cases = [
            ({"name": "accuracy"}, "accuracy", 0.8123, [0.78, 0.84], 3),
            ({"name": "squad"}, "f1", 57.54321, [55.0, 60.0], 2),
            ({"name": "bleu"}, "bleu", 31.2, [29.91, 33.0], 2),
            ({"name": "mae"}, "mae", 12.5, [11.0, 14.25], 2),
            ({"name": "mse"}, "mse", 0.004321, [0.004, 0.0047], 6),
            ({"name": "mse"}, "mse", 1234.5, [1200.0, 1300.0], 0),
        ]
        for metric, key, value, ci, places in cases:
            with self.subTest(key=key, value=value):
                entries = self.entries(metric, {key: {"value": value, "ci": ci}})
                shown = [metric_value(entries, key), metric_interval(entries, key)]
                shown.append(str(metric_cell(entries, key)))
                found = [n for text in shown for n in numbers(text) if n not in ("95",)]
                self.assertTrue(found)
                self.assertEqual({decimals(n) for n in found}, {places}, found)

    def test_gaps_are_signed_with_a_real_minus_sign(self):
        entry = {"scale": 1.0}
        self.assertEqual(format_number(0.012, "accuracy", entry, signed=True), "+0.012")
        self.assertEqual(format_number(-0.034, "accuracy", entry, signed=True), f"{MINUS}0.034")
        self.assertEqual(format_number(-0.0001, "accuracy", entry, signed=True), "0.000")
        self.assertEqual(format_number(-0.25, "pearson", entry), f"{MINUS}0.250")
        self.assertEqual(format_number(None, "accuracy", entry), "—")

    def test_unbounded_metrics_are_formatted_after_their_reference_value(self):
        entry = {"scale": None}
        self.assertEqual(format_number(0.5, "mae", entry, reference=0.01234), "0.50000")
        self.assertEqual(format_number(2.5e-7, "mse", entry), f"2.500e{MINUS}07")
        self.assertEqual(
            format_number(-2.5e-7, "mse", entry, signed=True), f"{MINUS}2.500e{MINUS}07"
        )
        self.assertEqual(format_number(0.0, "mse", entry), "0.000")

    def test_display_names(self):
        expected = {
            "accuracy": "Accuracy",
            "f1_macro": "F1 (macro)",
            "precision_weighted": "Precision (weighted)",
            "recall_micro": "Recall (micro)",
            "f1_binary": "F1 (binary)",
            "f1": "F1",
            "exact_match": "Exact match",
            "HasAns_f1": "F1 (answerable)",
            "NoAns_exact_match": "Exact match (unanswerable)",
            "overall_f1": "F1 (entities)",
            "rougeL": "ROUGE-L",
            "bleu": "BLEU",
            "chrf": "chrF",
            "mse": "MSE",
            "mae": "MAE",
            "pearson": "Pearson r",
            "spearman": "Spearman ρ",
            "matthews_correlation": "MCC",
        }
        for key, name in expected.items():
            self.assertEqual(metric_display_name(key), name)
        # A key nothing names is shown as it is.
        self.assertEqual(metric_display_name("f1_sometimes"), "f1_sometimes")
        self.assertEqual(metric_display_name("custom_score"), "custom_score")

    def test_every_reported_key_has_a_name(self):
        for info in METRICS.values():
            for key in info.keys:
                self.assertNotEqual(metric_display_name(key), key, key)
