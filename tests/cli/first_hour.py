#!/usr/bin/python3
"""A new user's first hour (issue 19): an own folder of 32x32 PNGs through train, eval, summary,
explain, features, export, predict and run, checking the messages and files a user reads.

Usage: /usr/bin/python3 tests/cli/first_hour.py --fovea build/fovea --work build/first_hour
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import onnx
from PIL import Image

CLASSES = ["circle", "cross", "square"]


def draw(kind, rng, size=32):
    """A white shape on a noisy dark background, RGB."""
    img = rng.integers(0, 40, (size, size, 3), dtype=np.uint8)
    c, r = size // 2 + rng.integers(-3, 4), 8 + rng.integers(0, 4)
    yy, xx = np.mgrid[:size, :size]
    if kind == "circle":
        mask = (yy - c) ** 2 + (xx - c) ** 2 <= r * r
    elif kind == "square":
        mask = (abs(yy - c) <= r) & (abs(xx - c) <= r)
    else:
        mask = (abs(yy - c) <= 2) | (abs(xx - c) <= 2)
    img[mask] = 230
    return img


def make_folder(root, per_class, size=32, seed=0):
    rng = np.random.default_rng(seed)
    for k in CLASSES:
        os.makedirs(os.path.join(root, k), exist_ok=True)
        for i in range(per_class):
            Image.fromarray(draw(k, rng, size)).save(os.path.join(root, k, f"{k}_{i:03d}.png"))


class Cli:
    def __init__(self, fovea):
        self.fovea = fovea

    def __call__(self, *args, ok=True, cwd=None):
        p = subprocess.run([self.fovea, *map(str, args)], capture_output=True, text=True, cwd=cwd,
                           env=dict(os.environ, OMP_NUM_THREADS="2"))
        if ok and p.returncode != 0:
            sys.exit(f"FAIL: fovea {' '.join(map(str, args))} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
        if not ok and p.returncode == 0:
            sys.exit(f"FAIL: fovea {' '.join(map(str, args))} should have failed:\n{p.stdout}\n{p.stderr}")
        return p.stdout, p.stderr


def expect(cond, what, *texts):
    if not cond:
        sys.exit("FAIL: " + what + "\n" + "\n".join(texts))
    print("ok  ", what)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fovea", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    fovea = Cli(os.path.abspath(a.fovea))
    work = os.path.abspath(a.work)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    shapes = os.path.join(work, "shapes")
    make_folder(shapes, 20)

    # a stratified subset: every class in training and test, counts in metrics.json, no top-5
    run = os.path.join(work, "run")
    out, err = fovea("train", "--data", "folder:shapes", "--model", "lenet5", "--input", "3x28x28", "--epochs", "2",
                     "--limit-train", 9, "--limit-test", 6, "--batch-size", 3, "--quiet", "--out", run, cwd=work)
    m = json.load(open(os.path.join(run, "metrics.json")))
    expect(m["train_class_counts"] == {k: 3 for k in CLASSES}, "--limit-train 9 takes 3 images of each class",
           json.dumps(m["train_class_counts"]))
    counts = m["test_class_counts"]
    expect(sorted(counts) == CLASSES and sum(counts.values()) == 6 and min(counts.values()) >= 1,
           "--limit-test 6 takes test images of every class", json.dumps(counts))
    expect("test_top5" not in m["epochs"][0] and "top-5" not in out, "no top-5 with 3 classes", out)
    expect(len(m["commands"]) == 1 and m["commands"][0].startswith("fovea train --data folder:shapes --model lenet5"),
           "metrics.json records the command line", json.dumps(m.get("commands")))
    expect(m["test_confusion"]["classes"] == CLASSES and sum(map(sum, m["test_confusion"]["matrix"])) == 6,
           "metrics.json holds the last epoch's confusion matrix", json.dumps(m.get("test_confusion")))
    expect(m["config"]["data"] == "folder:" + shapes and m["config"]["data_given"] == "folder:shapes",
           "the checkpoint stores the absolute data path and the one given", json.dumps(m["config"]))
    out, err = fovea("train", "--data", "folder:shapes", "--model", "lenet5", "--input", "3x28x28", "--epochs", "1",
                     "--limit-test", 2, "--batch-size", 8, "--quiet", "--out", os.path.join(work, "run2"), cwd=work)
    expect("warning: 1 of 3 classes have no test images (--limit-test 2)" in out, "a class left out is named", out)

    # eval and predict from another directory; a moved data folder says what to pass
    ck = os.path.join(run, "best.safetensors")
    out, _ = fovea("eval", "--checkpoint", ck, cwd="/")
    expect("top-1" in out and "top-5" not in out, "eval from another directory", out)
    out, _ = fovea("predict", "--checkpoint", ck, "--test-index", "0", cwd="/")
    expect(os.path.join("shapes", "") in out and "(true: " in out, "predict --test-index names the image file", out)
    moved = os.path.join(work, "shapes_moved")
    shutil.move(shapes, moved)
    _, err = fovea("eval", "--checkpoint", ck, ok=False)
    expect("the data path in the checkpoint is folder:" + shapes in err and "pass --data" in err,
           "a moved data folder: the stored path and --data", err)
    out, _ = fovea("eval", "--checkpoint", ck, "--data", "folder:" + moved, "--format", "json")
    expect('"test_class_counts"' in out and '"top5"' not in out, "eval --data on the moved folder", out)
    shutil.move(moved, shapes)
    _, err = fovea("eval", "--checkpoint", ck, "--data", "fashion-mnist", ok=False)
    expect("other class names" in err and "T-shirt/top" in err and "circle" in err,
           "other classes: both lists of names", err)

    # resume: a finished run says so and names what it ignored
    out, err = fovea("train", "--resume", "--epochs", "45", "--out", run)
    expect("already complete" in out and "--epochs 45" in err, "--resume on a finished run", out, err)

    # bad options say which and what
    _, err = fovea("train", "--limit-train", "-1", "--out", os.path.join(work, "bad"), ok=False)
    expect("--limit-train must be >= 0" in err, "a negative limit names the option", err)
    _, err = fovea("train", "--data", "shapes", "--out", os.path.join(work, "bad"), ok=False, cwd=work)
    expect("did you mean folder:shapes" in err, "a bare folder suggests folder:", err)
    small = os.path.join(work, "small")
    make_folder(small, 4, size=8)
    _, err = fovea("train", "--data", "folder:" + small, "--model", "lenet5", "--out", os.path.join(work, "bad"),
                   ok=False)
    expect("pass --input 3x28x28" in err and "does not fit the input 3x8x8" in err, "a zoo model on too small images", err)
    expect(not os.path.exists(os.path.join(work, "bad")), "refused runs leave no directory")

    # summary and rf: the trained network, the layer that no longer fits, the warning
    out, _ = fovea("summary", "--checkpoint", ck)
    expect("Input: 3x28x28" in out, "summary --checkpoint", out)
    out, _ = fovea("rf", "--checkpoint", ck)
    expect("features.0" in out, "rf --checkpoint", out)
    _, err = fovea("summary", "lenet5", "--input", "1x8x8", ok=False)
    expect("features.3 (Conv2d) does not fit the input 1x8x8" in err, "summary names the layer that fails", err)
    out, _ = fovea("summary", "resnet18", "--input", "3x5x5")
    expect("warning: conv1 (Conv2d, 7x7 window) gets 5x5 maps" in out and "too small" in out,
           "maps smaller than the windows are warned about", out)
    _, err = fovea("summary", "resnet18", "--input", "1x32x32")
    expect("--small-input" in err, "the ImageNet stem on small images is pointed out", err)
    big, _ = fovea("summary", "resnet18", "--input", "1x32x32", "--small-input", "--format", "json")
    expect(json.loads(big)["layers"][0]["output"] == [1, 64, 32, 32], "summary --small-input", big)

    # explain and features on image files in class folders
    imgs = [os.path.join(shapes, "circle", "circle_000.png"), os.path.join(shapes, "cross", "cross_001.png")]
    out, _ = fovea("explain", "--checkpoint", ck, *imgs, "--methods", "vanilla,gradcam", "--out",
                   os.path.join(work, "explain"))
    expect("circle_000" in out and "circle " in out and "cross " in out, "explain names images and true classes", out)
    png = Image.open(os.path.join(work, "explain", "circle_000_gradcam.png"))
    expect(min(png.size) >= 224, "single maps are enlarged to 224 px", str(png.size))
    _, err = fovea("explain", "--checkpoint", ck, *imgs, "--out", os.path.join(work, "explain"), ok=False)
    expect("--force" in err, "explain refuses a non-empty --out", err)
    fovea("explain", "--checkpoint", ck, *imgs, "--methods", "vanilla", "--out", os.path.join(work, "explain"),
          "--force")
    fovea("features", "--checkpoint", ck, imgs[0], "--out", os.path.join(work, "features"))
    tile = Image.open(os.path.join(work, "features", "circle_000_features.0.png"))
    expect(tile.size[1] > 32, "feature tiles with a title and channel numbers", str(tile.size))

    # ONNX deployment: metadata, predict and summary from the file, run with images
    onnx_path = os.path.join(work, "shapes.onnx")
    fovea("export", "--checkpoint", ck, "--out", onnx_path)
    meta = {p.key: p.value for p in onnx.load(onnx_path).metadata_props}
    expect(json.loads(meta["fovea.classes"]) == CLASSES and meta["fovea.input"] == "3x28x28"
           and len(json.loads(meta["fovea.mean"])) == 3, "export writes classes and normalisation", str(meta))
    _, err = fovea("export", "--checkpoint", ck, "--out", onnx_path, ok=False)
    expect("--force" in err, "export refuses to overwrite", err)
    a_out, _ = fovea("predict", "--checkpoint", ck, imgs[0])
    b_out, _ = fovea("predict", "--model", onnx_path, imgs[0])
    expect(a_out.splitlines()[1:] == b_out.splitlines()[1:] and "circle" in b_out,
           "predict with the ONNX file gives the checkpoint's answer", a_out, b_out)
    out, _ = fovea("summary", onnx_path)
    expect("Input: 3x28x28" in out, "summary reads the ONNX file's input", out)
    fovea("run", "--checkpoint", ck, *imgs, "--output", os.path.join(work, "logits.safetensors"))
    fovea("run", "lenet5", "--num-classes", 3, "--weights", ck, "--tensor", os.path.join(work, "missing.safetensors"),
          "--output", os.path.join(work, "x.safetensors"), ok=False)
    out, err = fovea("run", onnx_path, *imgs, "--output", os.path.join(work, "logits2.safetensors"))
    expect("(2,3)" in out, "run on images through the ONNX file", out)
    example = os.path.join(os.path.dirname(fovea.fovea), "examples", "classify_images")
    if os.path.exists(example):  # the C++ deployment example reads the same metadata
        p = subprocess.run([example, onnx_path, imgs[0]], capture_output=True, text=True, check=True)
        top = b_out.splitlines()[1].split()[1]
        expect(p.stdout.startswith(imgs[0] + ": " + top), "examples/classify_images agrees with predict",
               p.stdout, b_out)

    # a corrupt image found in the first epoch: an error, and no empty run directory
    broken = os.path.join(work, "broken")
    make_folder(broken, 6)
    victim = os.path.join(broken, "square", "square_005.png")
    data = open(victim, "rb").read()
    open(victim, "wb").write(data[:60])
    _, err = fovea("train", "--data", "folder:" + broken, "--normalize", "none", "--input", "3x28x28",
                   "--epochs", 1, "--batch-size", 4, "--out", os.path.join(work, "broken_run"), ok=False)
    expect("square_005.png" in err and not os.path.exists(os.path.join(work, "broken_run")),
           "a corrupt image: named, and no run directory left", err)
    print("first hour: all checks passed")


if __name__ == "__main__":
    main()
