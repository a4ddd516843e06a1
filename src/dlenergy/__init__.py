"""dlenergy: energy of deep-learning training from GPU/CPU power logs (del Rey et al.)."""

__version__ = "0.1.0"

RAM_W_PER_MB = 3.75e-4  #: memory power model of the paper's replication package (W per MB used)
SYNTHETIC_LABEL = "synthetic sample (simulated data, not real measurements)"


def __getattr__(name: str):  # lazy exports: importing dlenergy stays light (no pandas, no frameworks)
    if name in ("mark_epoch", "mark_train_start"):
        from . import markers

        return getattr(markers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
