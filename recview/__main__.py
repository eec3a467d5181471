"""``python -m recview``: the same command line as the ``recview`` script."""

from recview.cli import main

raise SystemExit(main())
