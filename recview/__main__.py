"""``python -m recview``: the same command line as the ``recview`` script.

Python imports the ``recview`` package (numpy and the library) before this
module runs, so a Ctrl-C during that import still ends in Python's own
traceback; the ``recview`` script covers it (see ``_recview_entry.py``).
"""

from _recview_entry import main

raise SystemExit(main())
