import sys

from benchclient.cli import main

sys.exit(main())
