from django.apps import AppConfig
from django.db.models.signals import post_migrate


class BenchmarksConfig(AppConfig):
    name = "benchmarks"

    def ready(self):
        from benchmarks.authors import authors_group_refresh

        post_migrate.connect(authors_group_refresh, dispatch_uid="authors-group-refresh")
