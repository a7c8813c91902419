"""examples/sibp_vs_sgd.py runs (on the small generated data set, one epoch)."""
import subprocess
import sys

from conftest import ROOT


def test_sibp_vs_sgd_example(idx_dir, tmp_path):
    plot = tmp_path / "plot.png"
    r = subprocess.run([sys.executable, str(ROOT / "examples" / "sibp_vs_sgd.py"), "--data", f"idx:{idx_dir}",
                        "--epochs", "1", "--out", str(plot)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "SIBP (eta 0.3, lambda 1)" in r.stdout and "SGD (lr 0.1)" in r.stdout
    assert plot.stat().st_size > 1000 and plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
