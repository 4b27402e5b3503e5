"""Settings several losses share (declared once so that they are identical by construction)."""

from siam_workbench.base.fields import Field

ALPHA = Field(float, 0.1, "Margin α (paper, metric loss: 10)", min=0.0, max=1e4,
              label="α (alpha) — margin")
