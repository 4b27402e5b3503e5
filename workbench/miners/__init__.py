"""The Miners tab's components, each owning one panel over a core model object
(:class:`core.infer.analysis.MiningHistory`): probability bars, the class table, the nearest
classes, the history heat map, the "why" view and the formula. ``workbench.miners_tab``
composes them."""
