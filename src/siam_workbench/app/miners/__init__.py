"""The Miners tab's views, each drawing one panel from what the Qt-free view model
(:mod:`siam_workbench.app.miners_model`) derives: the probabilities page (curve, bars, table,
selected class), the probability bars, the class table, the nearest classes, the history heat
map and the "why" view with the formula. ``siam_workbench.app.miners_tab`` lays them out."""
