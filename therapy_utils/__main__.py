"""``python -m therapy_utils``: see :mod:`therapy_utils.cli`."""

import sys

from therapy_utils.cli import main

sys.exit(main())
