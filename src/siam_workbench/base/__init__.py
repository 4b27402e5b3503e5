"""The bottom layer: errors, crash-safe writes, file locks, path checks, and the declaration
types every part uses (settings fields, part-name rules). Imports nothing else of the package,
so anything above may use it."""
