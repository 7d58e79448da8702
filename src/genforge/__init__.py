"""genforge: train GANs and VAEs on your own data, generate, evaluate, export."""

__version__ = "0.1.0"


def load(run_dir, device: str = "cpu"):
    """The trained model of a run directory: `genforge.load("runs/x").sample(64, seed=0)`."""
    from .run import load as _load

    return _load(run_dir, device)


__all__ = ["__version__", "load"]
