"""Run the ``edgeml`` command: ``python -m edgeml``."""

from edgeml.cli import main

raise SystemExit(main())
