"""examples/notebook.ipynb, the article retraced from Python, runs from start to end: through
`jupyter nbconvert --execute` when Debian's jupyter-nbconvert is there (make deps installs it),
else its code cells in order as one script."""
import json
import os
import shutil
import subprocess
import sys

from conftest import BUILD, SOURCE

NOTEBOOK = os.path.join(SOURCE, "examples", "notebook.ipynb")


def test_the_example_notebook_runs(tmp_path):
    env = dict(os.environ, FOVEA_SOURCE=SOURCE, FOVEA_NOTEBOOK_OUT=str(tmp_path),
               PYTHONPATH=os.path.join(BUILD, "python"))
    if shutil.which("jupyter-nbconvert"):
        r = subprocess.run(["jupyter-nbconvert", "--to", "notebook", "--execute", "--output",
                            str(tmp_path / "executed.ipynb"), NOTEBOOK], env=env, capture_output=True, text=True,
                           timeout=600)
        assert r.returncode == 0, r.stderr[-3000:]
        cells = json.load(open(tmp_path / "executed.ipynb"))["cells"]
        errors = [o for c in cells if c["cell_type"] == "code" for o in c["outputs"] if o["output_type"] == "error"]
        assert not errors
        text = "".join("".join(o.get("text", "")) for c in cells if c["cell_type"] == "code" for o in c["outputs"])
    else:
        cells = json.load(open(NOTEBOOK))["cells"]
        script = "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        r = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr[-3000:]
        text = r.stdout
    assert "Total params: 338,460" in text and "conv2 receptive field [7.0, 7.0]" in text
    assert "after fine-tuning" in text
    assert os.path.getsize(tmp_path / "maps.png") > 1000
