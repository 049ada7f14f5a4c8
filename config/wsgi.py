import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# Import the scoring stack (pyarrow, numpy, the metric modules) now rather than in the first
# upload a web process validates, which would otherwise wait seconds for it.
import submissions.pipeline  # noqa: E402, F401

# Start the chart renderer (a JavaScript engine in vl-convert) now: the first result page a web
# process serves would otherwise wait a second or two for it.
from submissions import charts  # noqa: E402

charts.warm_up()
