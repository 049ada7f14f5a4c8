"""Benchmark authors are staff (to use the admin) but see only what they maintain."""

from django.http import Http404

from benchmarks.access import can_maintain, get_benchmark_for
from benchmarks.authors import author_grant
from benchmarks.models import Benchmark
from submissions.access import get_submission_for
from tests.base import PlatformTestCase, make_benchmark, make_scored_submission, make_user


class AuthorAccessTests(PlatformTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.other_author = make_user("other-author")
        author_grant(cls.other_author)
        cls.private = make_benchmark(
            "private-one", maintainers=(cls.author,), visibility=Benchmark.Visibility.PRIVATE
        )
        cls.submission = make_scored_submission(cls.benchmark, cls.alice, {"test": {"accuracy": 1}})

    def test_an_author_is_staff_but_does_not_maintain_other_benchmarks(self):
        self.assertTrue(self.other_author.is_staff)
        self.assertFalse(can_maintain(self.other_author, self.benchmark))
        self.assertTrue(can_maintain(self.author, self.benchmark))
        self.assertTrue(can_maintain(self.staff, self.benchmark))

    def test_an_author_cannot_open_another_benchmarks_submissions(self):
        with self.assertRaises(Http404):
            get_submission_for(self.other_author, self.submission.pk)
        self.assertEqual(get_submission_for(self.author, self.submission.pk), self.submission)

    def test_an_author_does_not_see_another_authors_private_benchmark(self):
        with self.assertRaises(Http404):
            get_benchmark_for(self.other_author, "private-one")
        self.assertNotIn(self.private, Benchmark.objects.visible_to(self.other_author))
        self.assertIn(self.private, Benchmark.objects.visible_to(self.staff))
        self.assertEqual(list(Benchmark.objects.maintained_by(self.other_author)), [])
