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


def test_node_labels_never_overlap_on_a_crowded_graph(qtbot):
    """Issue 21 item 10: 64 clusters of crowded nodes; the labels on screen do not overlap,
    and the largest cluster's labels are kept."""
    from siam_workbench.app.cluster_graph import LABEL_MAX, ClusterGraph
    from siam_workbench.app.miners_labels import boxes_overlap

    graph = ClusterGraph(_Glyphs())
    qtbot.addWidget(graph)
    graph.resize(900, 600)
    graph.show()
    rng = np.random.default_rng(5)
    clusters = np.repeat(np.arange(64), 2)
    clusters[:8] = 0  # one large cluster
    n = clusters.size
    assert n <= LABEL_MAX
    centre = rng.normal(size=(64, 2))
    pos = centre[clusters] + rng.normal(scale=0.03, size=(n, 2))
    classes = [f"c{i}" for i in range(n)]
    graph.set_data(classes, pos, clusters, rng.dirichlet(np.ones(n)), None)
    def on_screen() -> list[tuple[float, float, float, float]]:
        rects = []
        for t in graph.labels:
            if t.isVisible():
                margin = t.textItem.document().documentMargin()
                r = t.textItem.mapRectToScene(t.textItem.boundingRect())
                r = graph.plot.mapFromScene(r).boundingRect()  # widget pixels
                rects.append((r.left() + margin, r.top() + margin, r.right() - margin,
                              r.bottom() - margin))
        return rects

    def overlaps() -> list:
        rects = on_screen()
        return [(a, b) for k, a in enumerate(rects) for b in rects[k + 1:]
                if boxes_overlap(a, b)]

    # Once the view has settled (its range and size) no two labels overlap.
    qtbot.waitUntil(lambda: graph.labelled() > 0 and not overlaps(), timeout=10_000)
    assert not overlaps()
    shown = [t for t in graph.labels if t.isVisible()]
    assert 0 < len(shown) < n  # crowded: some labels had to go
    texts = {t.textItem.toPlainText() for t in shown}
    assert sum(f"c{i}" in texts for i in range(8)) >= 4  # the largest cluster keeps labels
