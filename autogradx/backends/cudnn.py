"""``autogradx.backends.cudnn``: PyTorch's cuDNN switches, which training scripts set
(``torch.backends.cudnn.benchmark = True``). autogradx calls no cuDNN: the flags are
kept so that such code runs, and change nothing; ``is_available()`` is False."""

enabled = True
benchmark = False
benchmark_limit = 10
deterministic = False
allow_tf32 = True


def is_available():
    """False: autogradx does not use cuDNN."""
    return False


def version():
    """None: no cuDNN is loaded (as PyTorch answers without it)."""
    return None
