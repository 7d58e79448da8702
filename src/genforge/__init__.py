"""genforge: train GANs and VAEs on your own data, generate, evaluate, export."""

from .version import __version__


def load(run_dir, device: str = "cpu"):
    """The trained model of a run directory: `genforge.load("runs/x").sample(64, seed=0)`."""
    from .run import load as _load  # deferred: `import genforge` stays light; a model needs torch and every family

    return _load(run_dir, device)


__all__ = ["__version__", "load"]
