"""Structured pruning (stub)."""


def prune_model(model, techniques):
    return model
