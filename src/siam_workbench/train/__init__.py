"""Training: the trainer loop, the P×K and independent-triplet steps, schedules, the softmax
baseline, fine-tuning and the events a run emits. Stands on :mod:`siam_workbench.project` and
the parts below it; never imports :mod:`siam_workbench.infer` (its sibling reads what it
writes through the run folder)."""
