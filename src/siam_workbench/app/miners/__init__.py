"""The Miners tab's components, each owning one panel over a core model object
(:class:`siam_workbench.infer.analysis.MiningHistory`): probability bars, the class table, the
nearest
classes, the history heat map, the "why" view and the formula. ``siam_workbench.app.miners_tab``
composes them."""
