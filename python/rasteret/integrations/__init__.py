"""Integrations with other ecosystems (Hugging Face Hub, TorchGeo)."""
