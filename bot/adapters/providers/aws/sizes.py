"""AWS instance type names: GPU families and the size ladder within a family (EC2 and SageMaker `ml.` types)."""

from __future__ import annotations

GPU_FAMILIES = ("p2", "p3", "p4", "p5", "g3", "g4", "g5", "g6", "trn", "inf", "dl")
SIZES = ("nano", "micro", "small", "medium", "large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge",
         "16xlarge", "24xlarge", "32xlarge", "48xlarge")


def is_gpu_type(instance_type: str) -> bool:
    """GPU and accelerator families (p*, g*, trn*, inf*), EC2 or SageMaker (`ml.`) names."""
    return instance_type.removeprefix("ml.").split(".")[0].startswith(GPU_FAMILIES)


def smaller_type(instance_type: str) -> str | None:
    """`g5.12xlarge` -> `g5.8xlarge`, `ml.g5.2xlarge` -> `ml.g5.xlarge`; None when there is no smaller size."""
    prefix, _, size = instance_type.rpartition(".")
    if size not in SIZES:
        return None
    i = SIZES.index(size)
    return f"{prefix}.{SIZES[i - 1]}" if i > 0 else None


# GPUs (or Trainium / Inferentia chips) per instance, from AWS's instance type pages. Sizes not listed in a
# family's entry have one.
_GPUS: dict[str, dict[str, int]] = {
    "p3": {"8xlarge": 4, "16xlarge": 8, "24xlarge": 8},
    "p4d": {"24xlarge": 8},
    "p4de": {"24xlarge": 8},
    "p5": {"48xlarge": 8},
    "p5e": {"48xlarge": 8},
    "g4dn": {"12xlarge": 4, "metal": 8},
    "g5": {"12xlarge": 4, "24xlarge": 4, "48xlarge": 8},
    "g6": {"12xlarge": 4, "24xlarge": 4, "48xlarge": 8},
    "g6e": {"12xlarge": 4, "24xlarge": 4, "48xlarge": 8},
    "trn1": {"32xlarge": 16},
    "trn1n": {"32xlarge": 16},
    "inf2": {"24xlarge": 6, "48xlarge": 12},
}


def gpu_count(instance_type: str) -> int | None:
    """GPUs in one instance: 0 for a type without any, None for a GPU family this table does not know."""
    family, _, size = instance_type.removeprefix("ml.").partition(".")
    if not is_gpu_type(instance_type):
        return 0
    if family not in _GPUS:
        return None
    return _GPUS[family].get(size, 1)
