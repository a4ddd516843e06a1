"""Recording new runs: the code that runs beside (and inside) a user's training.

One rule holds for the whole subpackage: **no pandas and no pyarrow in the training process**.
Every module here imports the standard library only (numpy, psutil, ``pynvml`` and the
frameworks are imported where they are used), so ``import dlenergy`` and the markers add nothing
heavy to a training script; a test checks it in a fresh interpreter.

==============================================  ====================================================
module                                          what
==============================================  ====================================================
:mod:`~dlenergy.recording.measure`              :func:`~dlenergy.recording.measure.measure` and
                                                its steps; ``dlenergy measure`` calls it
:mod:`~dlenergy.recording.backends`             GPU sources behind :class:`GpuBackend` (NVML,
                                                nvidia-smi, replay, none, auto) and
                                                :func:`open_backend`
:mod:`~dlenergy.recording.sampler`              :class:`ProcessTreeSampler`: CPU % and RSS of the
                                                command's process tree (psutil)
:mod:`~dlenergy.recording.recorder`             the sampling thread (:class:`Recorder`),
                                                ``gpu.csv``/``cpu.csv`` lines, ``runs.csv``
                                                appends under the dataset lock
:mod:`~dlenergy.recording.markers`              :func:`mark_epoch`, :func:`mark_train_start`, the
                                                Keras and Lightning callbacks (in the training)
:mod:`~dlenergy.recording.budget`               :class:`EnergyBudget` and the eq. 2 projection
                                                (energy-aware early stopping, in the training)
:mod:`~dlenergy.recording.runfolder`            names of layout v1 and the environment shared
                                                with the command
:mod:`~dlenergy.recording.errors`               :class:`MeasureError`, :class:`NoGpuError`, exit codes
==============================================  ====================================================

The accepted log header names live in :mod:`dlenergy.headers`, shared with the analysis parser.
This package module imports nothing: import the module you need (``from
dlenergy.recording.measure import measure``, ``from dlenergy.recording.markers import
mark_epoch``), so that a training script that calls the markers loads only the markers and the
budget, not the recorder.  ``dlenergy.mark_epoch`` and ``dlenergy.mark_train_start`` are the
markers; ``dlenergy.measure`` and ``dlenergy.markers`` are aliases of the former flat modules.
"""

__all__ = ["backends", "budget", "errors", "markers", "measure", "recorder", "runfolder", "sampler"]
