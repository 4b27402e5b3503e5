"""The Draw tab's components: the evaluation over the saved drawings (its own panel over a
:class:`siam_workbench.infer.evaluate.RunModel` and the drawings). ``siam_workbench.app.draw_tab``
composes them."""
