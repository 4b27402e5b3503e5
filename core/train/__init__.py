"""Training: the project and its validated config, backbones, losses, miners, batched
augmentation, the trainer loop and the run folder it writes (checkpoints, metrics, mining
history). Reads glyph files from :mod:`core.data`; :mod:`core.infer` reads what it writes."""
