"""Qt-free engine of Siam Workbench: data, models, losses, miners, trainer, evaluation, CLI.

Nothing in this package may import Qt: the same engine runs headless from the ``siam`` CLI.
"""

__version__ = "0.1.0"
