"""`pip install .` (pyproject.toml, python/fovea_build.py) into a fresh virtual environment, from
the build the tests run in and with nothing downloaded: the package and libfovea.so land in the
environment, and `import fovea` works there from another folder."""
import os
import subprocess
import sys

from conftest import BUILD, SOURCE


def test_pip_install_from_the_local_build(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    env = dict(os.environ, FOVEA_BUILD=BUILD, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    env.pop("PYTHONPATH", None)
    r = subprocess.run([str(venv / "bin" / "pip"), "install", "--no-index", SOURCE], env=env, capture_output=True,
                       text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    code = ("import fovea, numpy as np; print(fovea.__file__); "
            "print(int(np.asarray(fovea.models.create('lenet5')(np.zeros((1, 1, 28, 28), np.float32))).shape[1]))")
    r = subprocess.run([str(venv / "bin" / "python"), "-c", code], env=env, cwd=str(tmp_path), capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    where, classes = r.stdout.split()
    assert where.startswith(str(venv)) and classes == "10"
    assert any(f.startswith("libfovea.so") for f in os.listdir(venv / "lib"))
