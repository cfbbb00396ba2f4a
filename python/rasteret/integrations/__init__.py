"""Integrations of rasteret collections with other libraries (TorchGeo)."""
