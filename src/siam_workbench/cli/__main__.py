import sys

from siam_workbench.cli import main

sys.exit(main())
