"""Inference on a trained run: embedding passes and class centers, evaluation, query, export,
and the read-back of run files that the Miners and Runs views show."""
