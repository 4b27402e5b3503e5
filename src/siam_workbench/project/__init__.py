"""A project on disk: its validated settings (the schema the parts fill), the recipe that sizes
them to an alphabet, ``project.toml`` and the run folders, the trust record and the project's
plug-in set. Training and inference both stand on this layer and never on each other."""
