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
