"""Inference on a trained run: evaluation, query, export, few-shot episodes and enrolment,
labeling, the read-back of run files the Miners and Runs views show, and advice on a finished
run. Never imports :mod:`siam_workbench.train`."""
