"""``python -m memsim``: the same as the ``memsim`` command."""

from memsim.cli import main

raise SystemExit(main())
