"""``python -m autogradx.conformance NAME``: see :func:`autogradx.conformance.main`."""

import sys

from autogradx.conformance import main

sys.exit(main())
