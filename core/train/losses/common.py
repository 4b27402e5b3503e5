"""Settings several losses share (declared once so that they are identical by construction)."""

from core.train.fields import Field

ALPHA = Field(float, 10.0, "Margin α", min=0.0, max=1e4, label="α (alpha) — margin")
