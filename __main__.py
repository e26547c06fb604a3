"""``python -m neurocc``: the command line."""

from neurocc.cli import main

raise SystemExit(main())
