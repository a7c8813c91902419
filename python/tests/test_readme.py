"""The README's Python example runs unchanged (on real MNIST, fetched into
$SIBP_DATA_DIR or ./data as the README's set-up command does)."""
import os
import re
import subprocess
import sys

import sibp
from conftest import ROOT

MARKER = "<!-- README-PYTHON-EXAMPLE"


def readme_example():
    text = (ROOT / "README.md").read_text()
    start = text.index(MARKER)
    block = re.search(r"```python\n(.*?)```", text[start:], re.S)
    assert block, "no ```python block after the README's example marker"
    return block.group(1)


def test_readme_python_example_runs_unchanged(tmp_path):
    data_dir = os.environ.get("SIBP_DATA_DIR") or str(ROOT / "data")
    sibp.datasets.fetch("mnist", data_dir)  # what the README's set-up command did
    env = dict(os.environ, SIBP_DATA_DIR=data_dir)
    r = subprocess.run([sys.executable, "-c", readme_example()], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().split("\n")
    # The callback's rows (epoch, iteration, test accuracy), then the final accuracy and seconds per epoch.
    final_acc = float(lines[-3].split()[0])
    assert 0.9 < final_acc <= 1.0, r.stdout  # SIBP, one epoch of MNIST: about 0.97
    assert lines[-2] == "(5, 10)", r.stdout
    assert "'layers.0.weight': (500, 784)" in lines[-1] and "'layers.1.bias': (10,)" in lines[-1], r.stdout
    assert (tmp_path / "mnist-sibp.safetensors").stat().st_size > 4 * (784 * 500 + 500 * 10)
