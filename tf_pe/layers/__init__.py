"""Sparse and predicted Keras layers."""

__all__ = []
