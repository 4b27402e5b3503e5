"""The network: backbones (the registry of embedding networks), checkpoints (weights + the
settings they were trained with) and the device / thread choice. Above data, below the
training parts: a checkpoint can be read without knowing any miner or loss."""
