"""Metric keys are not unique across metrics: SQuAD's f1 is on 0–100, a classification f1 on
0–1. Pages format each value by the scale of the metric that produced it."""

from django.test import SimpleTestCase

from benchmarks.templatetags.platform_tags import metric_cell, metric_value
from scoring.tasktypes import key_scales, with_scales


class DisplayScaleTests(SimpleTestCase):
    def test_the_same_key_gets_the_scale_of_its_task_metric(self):
        self.assertEqual(key_scales([{"name": "squad"}])["f1"], 100.0)
        self.assertEqual(key_scales([{"name": "f1"}])["f1"], 1.0)
        self.assertEqual(key_scales([{"name": "f1", "average": "macro"}])["f1_macro"], 1.0)
        self.assertIsNone(key_scales([{"name": "mse"}])["mse"])

    def test_values_are_formatted_by_their_scale(self):
        stored = {"f1": {"value": 57.54321, "ci": [55.0, 60.0]}}
        squad = with_scales(stored, key_scales([{"name": "squad"}]))
        classification = with_scales(
            {"f1": {"value": 0.575432, "ci": None}}, key_scales([{"name": "f1"}])
        )
        self.assertEqual(metric_value(squad, "f1"), "57.54")
        self.assertIn("57.54", metric_cell(squad, "f1"))
        self.assertIn("± 2.50", metric_cell(squad, "f1"))
        self.assertEqual(metric_value(classification, "f1"), "0.575")
        self.assertEqual(stored, {"f1": {"value": 57.54321, "ci": [55.0, 60.0]}})
