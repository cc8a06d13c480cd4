"""``python -m intercom_pipeline.cli``: the same as the ``intercom-pipeline`` console script."""

import sys

from intercom_pipeline.cli.main import main

sys.exit(main())
