"""Callbacks that change a network's structure during training."""

__all__ = []
