"""Siam Workbench: train and inspect Siamese metric networks for very large alphabets.

Layers, bottom to top (``pyproject.toml``'s import-linter contracts enforce them):
``base`` → ``data`` → ``model`` → ``parts`` → ``project`` → ``train`` | ``infer`` → ``cli`` →
``app``. Everything but ``app`` is Qt-free: the same engine runs headless from the ``siam`` CLI.
"""

__version__ = "0.1.0"
