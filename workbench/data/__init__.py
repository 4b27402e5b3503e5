"""The Data tab's components: the render panel (its own job, progress and outcome).
``workbench.data_tab`` composes them with the font table and the glyph browser."""
