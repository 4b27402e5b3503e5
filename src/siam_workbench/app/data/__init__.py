"""The Data tab's components: the render panel (its own job, progress and outcome).
``siam_workbench.app.data_tab`` composes them with the font table and the glyph browser."""
