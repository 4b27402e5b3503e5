"""In-app help: the methods (loss parts, the miners, with their formulas) and the keyboard
shortcuts. Plain HTML in a QTextBrowser; the formulas are those of docs/METHODS.md."""

from __future__ import annotations

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

METHODS_HTML = """
<h2>What Siam Workbench trains</h2>
<p>A Siamese (metric-learning) network maps each glyph image to an embedding; a class is its
<i>center</i>, the mean embedding of its training images; an image is read as the class whose
center is nearest. Accuracy is the share of images whose nearest center is their own class
(top-1; top-5: among the five nearest).</p>

<h3>Losses</h3>
<p><b>Metric loss</b> (Mokin et al. 2024, §3.4). With a = softplus applied to the embeddings,
d<sub>ap</sub> = ‖a(f<sub>a</sub>) − a(f<sub>p</sub>)‖ and
d<sub>an</sub> = ‖a(f<sub>a</sub>) − a(f<sub>n</sub>)‖:</p>
<ul>
<li><b>g1 = ρ · d<sub>ap</sub></b> — pulls the anchor and the positive together (ρ, rho);</li>
<li><b>g2 = τ · softplus(d<sub>ap</sub> − d<sub>an</sub> + α)</b> — the triplet part: the
negative must be α farther than the positive (τ, tau; α, margin);</li>
<li><b>g3 = ξ · ‖a(f<sub>i</sub>) − c<sub>i</sub>‖</b> for i ∈ {a, p, n} — keeps each image near
its class center c<sub>i</sub> (ξ, xi; cluster stability);</li>
<li>loss = mean(g1² + g2² + Σ g3²). Paper values: α = 10, ρ = 0.1, τ = 1, ξ = 1.</li>
</ul>
<p>The parts live on very different scales (g1 ~ 0.01, g2 ~ 100), which is why the Train tab
plots each on its own axes. <b>Triplet</b>: max(0, d<sub>ap</sub> − d<sub>an</sub> + α).
<b>Contrastive</b>: y·d² + (1 − y)·max(0, α − d)² over the positive and the negative pair.</p>

<h3>Positive miners (which class is the anchor)</h3>
<p><b>Auto-probabilistic (AP)</b>, §3.2: d<sub>i</sub> = mean distance of class i's samples
to its center; P<sub>i</sub> = d<sub>i</sub><sup>γ</sup> / Σ d<sub>j</sub><sup>γ</sup>;
P<sub>k</sub> = normalise(((1 − w)·P + w·P<sub>k−1</sub>)<sup>γ</sup>). Loose classes (far
from their center) are drawn more often; γ sharpens that, w keeps a memory of the previous
epoch. <b>Random</b>: every class 1/C.</p>

<h3>Negative miners (which class is the negative)</h3>
<p><b>Auto-clustering (AC)</b>, §3.3: the η closest pairs of class centers form a graph whose
connected components are clusters; with probability θ the negative comes from the anchor's
own cluster (a similar, hard class), otherwise uniformly from the rest. η too large merges
everything into one cluster, too small leaves most classes alone — the Train tab says so.
<b>Hard</b> (Simo-Serra et al. 2015): draw r× more random triplets, train on the hardest 1/r
by loss. <b>Distance-based</b>: a negative class is drawn more often the nearer its center is
to the anchor's. <b>Random</b>: uniform over the other classes.</p>

<h3>Reading the tabs</h3>
<p><b>Miners › Why</b> plots each class's sampling probability against its validation error:
a miner that "pushes the classes the network gets wrong" puts the high-error classes to the
right. <b>Runs</b> compares runs by accuracy — losses of different miners or losses are not
comparable (random mining shows a lower loss and a lower accuracy). The dashed
<b>pixel 1-NN</b> line is nearest-neighbour search on raw pixels: a network below it has not
yet learned anything a lookup table cannot do.</p>

<h3>Size modes</h3>
<p><b>fit</b>: each glyph's ink fills the image (o and O become the same picture).
<b>em</b>: the font's em box is the frame, so relative size and the baseline survive; the Draw
canvas shows the baseline, and drawings are framed the same way.</p>
"""


def shortcuts_html(actions: list[QAction]) -> str:
    rows = []
    for act in actions:
        keys = ", ".join(k.toString() for k in act.shortcuts() if not k.isEmpty())
        if keys:
            rows.append(f"<tr><td><b>{keys}</b></td><td>{act.text().replace('&', '')}</td></tr>")
    return ("<h2>Keyboard shortcuts</h2><table cellspacing=6>" + "".join(rows) +
            "<tr><td><b>Scroll / drag</b></td><td>zoom / pan any plot; right-click: plot "
            "menu</td></tr><tr><td><b>Ctrl+Z on the canvas</b></td><td>undo a stroke (Draw "
            "tab's Undo button)</td></tr></table>")


class HelpDialog(QDialog):
    """A non-modal page of rich text."""

    def __init__(self, title: str, html: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(True)
        self.browser.setHtml(html)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        lay = QVBoxLayout(self)
        lay.addWidget(self.browser)
        lay.addWidget(buttons)
        self.resize(720, 620)
