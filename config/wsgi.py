import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# Import the scoring stack (pyarrow, numpy, the metric modules) now rather than in the first
# upload a web process validates, which would otherwise wait seconds for it.
import submissions.pipeline  # noqa: E402, F401
