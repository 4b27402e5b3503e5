"""``python -m workbench [PROJECT]`` — same as the ``siam-workbench`` entry point.

The guard matters: the renderer's process pool uses the "spawn" start method, which re-imports
the parent's ``__main__`` in every worker; unguarded, each worker would open a window.
"""

import sys

from siam_workbench.app.app import main

if __name__ == "__main__":
    sys.exit(main())
