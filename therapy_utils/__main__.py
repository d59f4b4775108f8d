"""``python -m therapy_utils``: see :mod:`therapy_utils.course.cli`."""

import sys

from therapy_utils.course.cli import main

sys.exit(main())
