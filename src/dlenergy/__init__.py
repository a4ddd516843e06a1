"""dlenergy: energy of deep-learning training from GPU/CPU power logs (del Rey et al.)."""

__version__ = "0.1.0"

RAM_W_PER_MB = 3.75e-4  #: memory power model of the paper's replication package (W per MB used)
SYNTHETIC_LABEL = "synthetic sample (simulated data, not real measurements)"

# the markers a training script calls; dlenergy.recording imports the standard library only
from .recording.markers import mark_epoch, mark_train_start  # noqa: E402

__all__ = ["RAM_W_PER_MB", "SYNTHETIC_LABEL", "mark_epoch", "mark_train_start"]
