"""The Draw tab's components: the evaluation over the saved drawings (its own panel over a
:class:`core.infer.evaluate.RunModel` and the drawings). ``workbench.draw_tab`` composes them."""
