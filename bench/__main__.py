"""`python -m bench`: the one benchmark command (see `bench.run`)."""

import sys

from bench.run import main

sys.exit(main())
