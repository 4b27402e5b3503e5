"""Issue 21 item 10: the Clusters view's member list is not blank before a click — it lists
the largest cluster — and a click still lists the clicked class's own cluster."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QPixmap


class _Glyphs:
    def pixmap(self, text: str, size: int) -> QPixmap:
        return QPixmap(size, size)


def test_largest_cluster_is_listed_before_a_click(qtbot):
    from siam_workbench.app.cluster_graph import ClusterGraph

    graph = ClusterGraph(_Glyphs())
    qtbot.addWidget(graph)
    classes = list("abcdefgh")
    clusters = np.array([0, 0, 1, 1, 1, -1, 2, 2])  # cluster 1 is the largest
    pos = np.random.default_rng(0).normal(size=(8, 2))
    graph.set_data(classes, pos, clusters, np.full(8, 1 / 8), np.array([[0, 1], [2, 3]]))
    listed = {graph.members.item(i).text() for i in range(graph.members.count())}
    assert listed == {"c", "d", "e"} and "Largest cluster 1" in graph.members_title.text()
    graph.select_class(6)
    listed = {graph.members.item(i).text() for i in range(graph.members.count())}
    assert listed == {"g", "h"} and "Largest" not in graph.members_title.text()
    graph.set_data(classes, pos, clusters, np.full(8, 1 / 8), None)  # next epoch: kept
    assert "Cluster 2" in graph.members_title.text()
