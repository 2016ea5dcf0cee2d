"""``benchmarks/gpu_check.sh``: the one device check must be able to run on the device image.

The image has torch, scikit-learn, pandas and pytest, not the test extra, and a
GPU session is rare: a script that fails there wastes it. These checks run
without a GPU.
"""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"
# what the device image holds (scikit-learn brings scipy and joblib)
DEVICE_PACKAGES = {"torch", "sklearn", "pandas", "numpy", "scipy", "joblib", "pytest",
                   "sklearn_sain"}  # fmt: skip


def gpu_modules():
    """The test modules with a test marked gpu, found as the script finds them."""
    return sorted(p for p in (ROOT / "tests").rglob("test_*.py") if "mark.gpu" in p.read_text())


def top_level_imports(path):
    """Root package names the module imports at its top level (when it is collected)."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_the_script_is_valid_bash():
    if shutil.which("bash") is None:
        pytest.skip("no bash")
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)


def test_gpu_test_modules_import_only_what_the_device_image_has():
    modules = gpu_modules()
    assert modules, "no test is marked gpu"
    for path in modules:
        foreign = top_level_imports(path) - DEVICE_PACKAGES - set(sys.stdlib_module_names)
        assert not foreign, f"{path.relative_to(ROOT)} imports {sorted(foreign)} at collection"


def test_the_script_collects_exactly_those_modules():
    if shutil.which("bash") is None or shutil.which("grep") is None:
        pytest.skip("no bash or grep")
    line = next(s for s in SCRIPT.read_text().splitlines() if s.startswith("mapfile"))
    listed = subprocess.run(["bash", "-c", f"{line}; printf '%s\\n' \"${{gpu_modules[@]}}\""],
                            cwd=ROOT, check=True, capture_output=True, text=True).stdout.split()
    assert sorted(ROOT / p for p in listed) == gpu_modules()
