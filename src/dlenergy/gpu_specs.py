"""GPU specification table: the GPU model name a user or a log gives -> CUDA cores, memory, TDP.

The offline estimators (paper §4.3, RQ3.2) take the GPU *name* as input and turn it into three
numbers (CUDA cores, total GPU memory in GB, TDP in W); MLCO2 and Green Algorithms need the TDP.
The table ships with the package (``dlenergy/data/gpu_specs.csv``): one row per GPU with a
case-insensitive regular expression ``pattern`` matched against the name (``nvidia-smi`` names such
as ``NVIDIA H100 80GB HBM3``, ``NVIDIA GeForce RTX 3090``, ``Tesla T4`` or short ones such as
``RTX 3090``).  Rows are tried in file order and the first match wins, so specific variants
(``A100 80GB PCIe``) come before the bare family name (``A100``).  ``source`` says where each value
comes from (the vendor's datasheet).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from functools import cache, lru_cache
from importlib import resources

import pandas as pd

SPEC_COLUMNS = ["cuda_cores", "memory_gb", "tdp_w"]


class UnknownGPUError(KeyError):
    """A GPU name that matches no row of the specification table."""

    def __str__(self) -> str:  # KeyError quotes its argument; show the message as it is
        return str(self.args[0]) if self.args else "unknown GPU"


@dataclass(frozen=True)
class GPUSpec:
    name: str
    cuda_cores: int
    memory_gb: float
    tdp_w: float
    source: str

    def as_dict(self) -> dict:
        return asdict(self)


@lru_cache(maxsize=1)
def gpu_table() -> pd.DataFrame:
    """The shipped specification table (``name, pattern, cuda_cores, memory_gb, tdp_w, source``)."""
    with resources.files("dlenergy").joinpath("data/gpu_specs.csv").open("r", encoding="utf-8") as fh:
        df = pd.read_csv(fh, dtype={"name": str, "pattern": str, "source": str})
    df["cuda_cores"] = df["cuda_cores"].astype("int64")
    df["memory_gb"] = df["memory_gb"].astype("float64")
    df["tdp_w"] = df["tdp_w"].astype("float64")
    return df


@cache
def _compiled() -> list[tuple[re.Pattern, int]]:
    return [(re.compile(p, re.IGNORECASE), i) for i, p in enumerate(gpu_table()["pattern"])]


def known_gpus() -> list[str]:
    return gpu_table()["name"].tolist()


@lru_cache(maxsize=4096)
def lookup_gpu(name: str) -> GPUSpec:
    """The specification of the GPU called ``name``; :class:`UnknownGPUError` when none matches."""
    if name is None or (isinstance(name, float) and name != name) or not str(name).strip():
        raise UnknownGPUError("no GPU model given")
    text = " ".join(str(name).split())
    for rx, i in _compiled():
        if rx.search(text):
            row = gpu_table().iloc[i]
            return GPUSpec(
                str(row["name"]),
                int(row["cuda_cores"]),
                float(row["memory_gb"]),
                float(row["tdp_w"]),
                str(row["source"]),
            )
    raise UnknownGPUError(
        f"unknown GPU {name!r}: it matches no entry of the GPU specification table "
        f"(dlenergy/data/gpu_specs.csv; known: {', '.join(known_gpus())})"
    )


def gpu_features(names: pd.Series | list[str], *, errors: str = "raise") -> pd.DataFrame:
    """``cuda_cores, memory_gb, tdp_w`` (plus the matched ``gpu_spec_name``) for each GPU name.

    With ``errors="coerce"`` an unknown name gives NaN instead of raising.
    """
    names = pd.Series(names)
    rows = []
    for n in names:
        try:
            s = lookup_gpu(n)
            rows.append(
                {"gpu_spec_name": s.name, "cuda_cores": float(s.cuda_cores), "memory_gb": s.memory_gb, "tdp_w": s.tdp_w}
            )
        except UnknownGPUError:
            if errors == "raise":
                raise
            rows.append(
                {"gpu_spec_name": None, "cuda_cores": float("nan"), "memory_gb": float("nan"), "tdp_w": float("nan")}
            )
    return pd.DataFrame(rows, index=names.index, columns=["gpu_spec_name", *SPEC_COLUMNS])
