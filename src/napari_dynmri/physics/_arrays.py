"""Tell numpy arrays and torch tensors apart without importing torch."""


def is_torch(x) -> bool:
    """True when ``x`` is a ``torch.Tensor`` (checked by module name, so torch is never imported here)."""
    return type(x).__module__.startswith("torch")
