"""The library from Python: the zoo, summaries, weights files, ONNX, optimizers, fovea.train,
fovea.explain, errors as Python exceptions, the GIL released, Ctrl-C, and `import fovea` from the
repository root."""
import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import fovea

SOURCE = os.environ.get("FOVEA_SOURCE", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def small_batch(n=4, seed=0):
    return np.random.default_rng(seed).random((n, 1, 28, 28), dtype=np.float32)


def test_models_and_summary():
    assert "resnet18" in fovea.models.names()
    net = fovea.models.create("resnet18", num_classes=10, small_input=True)
    s = fovea.summary(net, input=(1, 28, 28))
    assert s.total_params == net.num_parameters() == 11_172_810
    assert "Total params: 11,172,810" in str(s)
    layers = {row["name"]: row for row in s.layers}
    assert layers["layer1.0.conv1"]["type"] == "Conv2d" and layers["fc"]["output"] == [1, 10]
    assert layers["layer4"]["receptive_field"]["rf"][0] > 28
    assert "layer1.0.conv1" in fovea.rf(net, input=(1, 28, 28))
    article = fovea.models.load_spec(os.path.join(SOURCE, "examples", "specs", "article_example.json"))
    assert fovea.summary(article, input=(1, 30, 30)).total_params == 338_460
    lenet = fovea.models.create("lenet5")
    assert fovea.summary(lenet, input=(1, 28, 28)).total_params == 61_706


def test_module_interface():
    net = fovea.models.create("lenet5")
    names = [n for n, _ in net.named_parameters()]
    assert names[0] == "features.0.weight" and len(net.parameters()) == len(names)
    assert net.eval() is net and not net.training and net.train().training
    frozen = net.freeze("features.*")
    assert "features.3.bias" in frozen and net.num_parameters(trainable_only=True) == 59_134
    net.unfreeze("features.3.*")
    assert net.num_parameters(trainable_only=True) == 59_134 + 2_416
    seen = []
    h = net.submodule("features.0").register_forward_hook(lambda m, i, o: seen.append((m.type, o.shape)))
    out = net(small_batch(2))
    assert out.shape == (2, 10) and seen == [("Conv2d", (2, 6, 28, 28))]
    net.submodule("features.0").remove_hook(h)
    # a hook that returns a tensor replaces the output
    net.submodule("classifier.4").register_forward_hook(lambda m, i, o: o * 0.0)
    assert np.asarray(net(small_batch(1))).sum() == 0


def test_weights_files_and_onnx(tmp_path):
    net = fovea.models.create("lenet5").eval()
    x = small_batch(3)
    y = np.asarray(net(x)).copy()
    fovea.save(net, str(tmp_path / "w.safetensors"))
    state = fovea.load(str(tmp_path / "w.safetensors"))
    assert set(state) == set(net.state_dict())
    other = fovea.models.create("lenet5").eval()
    assert other.load_state_dict(state) == {"missing": [], "unexpected": [], "mismatched": []}
    np.testing.assert_array_equal(np.asarray(other(x)), y)
    fovea.onnx.save(net, str(tmp_path / "m.onnx"), input=(1, 28, 28))
    imported = fovea.onnx.load(str(tmp_path / "m.onnx"))
    np.testing.assert_allclose(np.asarray(imported(x)), y, rtol=1e-5, atol=1e-6)
    import torch
    torch.save({k: torch.from_numpy(np.asarray(v).copy()) for k, v in state.items()}, tmp_path / "w.pth")
    assert set(fovea.load(str(tmp_path / "w.pth"))) == set(state)


def test_optimizer_steps_lower_the_loss():
    net = fovea.models.create("lenet5")
    opt = fovea.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    sched = fovea.optim.StepLR(opt, step_size=1, gamma=0.5)
    x = fovea.tensor(small_batch(8))
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = (net(x) * net(x)).mean()  # drive the logits to 0
        loss.backward()
        opt.step()
        losses.append(loss.item())
    sched.step()
    assert losses[-1] < losses[0] and abs(opt.lr - 0.025) < 1e-12

    # every schedule against PyTorch's, epoch by epoch
    import torch
    p = torch.nn.Parameter(torch.zeros(1))

    def lrs(make_fovea, make_torch, steps=12):
        fo = fovea.optim.SGD([fovea.zeros((1,), requires_grad=True)], lr=0.1, momentum=0.9)
        to = torch.optim.SGD([p], lr=0.1, momentum=0.9)
        fs, ts = make_fovea(fo), make_torch(to)
        out = []
        for _ in range(steps):
            out.append((fo.lr, to.param_groups[0]["lr"]))
            fs.step()
            to.step()
            ts.step()
        return out

    cases = [
        (lambda o: fovea.optim.MultiStepLR(o, milestones=[3, 7], gamma=0.5),
         lambda o: torch.optim.lr_scheduler.MultiStepLR(o, milestones=[3, 7], gamma=0.5)),
        (lambda o: fovea.optim.LinearLR(o, start_factor=0.25, total_iters=4),
         lambda o: torch.optim.lr_scheduler.LinearLR(o, start_factor=0.25, total_iters=4)),
        (lambda o: fovea.optim.CosineAnnealingLR(o, T_max=10),
         lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10)),
        (lambda o: fovea.optim.OneCycleLR(o, max_lr=1.0, total_steps=12),
         lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=12)),
        (lambda o: fovea.optim.SequentialLR(o, schedulers=[fovea.optim.LinearLR(o, start_factor=0.1, total_iters=3),
                                                          fovea.optim.StepLR(o, step_size=2)], milestones=[3]),
         lambda o: torch.optim.lr_scheduler.SequentialLR(
             o, [torch.optim.lr_scheduler.LinearLR(o, start_factor=0.1, total_iters=3),
                 torch.optim.lr_scheduler.StepLR(o, step_size=2)], milestones=[3])),
    ]
    for make_fovea, make_torch in cases:
        for ours, theirs in lrs(make_fovea, make_torch):
            assert abs(ours - theirs) < 1e-9 * max(1.0, abs(theirs)), (ours, theirs)


def test_train_runs_the_clis_trainer(tmp_path):
    records = []
    run = fovea.train(model="lenet5", data="fashion-mnist", epochs=2, limit_train=600, limit_test=200,
                      batch_size=32, out=str(tmp_path / "run"), callback=records.append)
    assert run["epochs_done"] == 2 and len(run["epochs"]) == 2
    assert [r["epoch"] for r in records] == [1, 2]
    assert records == run["epochs"] and 0 < run["best_top1"] <= 1
    metrics = json.load(open(tmp_path / "run" / "metrics.json"))
    assert metrics["epochs"] == run["epochs"] and metrics["config"]["limit_train"] == 600
    again = fovea.train(out=str(tmp_path / "run"), resume=True)
    assert again["already_complete"]
    # transfer learning's three steps from that run: a new head for 5 of its classes, then layers unfrozen
    seen = []
    tuned = fovea.finetune(pretrained=str(tmp_path / "run" / "best.safetensors"), classes=[5, 6, 7, 8, 9],
                           per_class=20, limit_test=100, unfreeze="features.3.*", head_epochs=1, finetune_epochs=1,
                           out=str(tmp_path / "tuned"), callback=seen.append)
    assert tuned["head"]["epochs_done"] == 1 and tuned["finetune"]["epochs_done"] == 1 and len(seen) == 2
    assert tuned["finetune"]["metrics"]["config"]["unfreeze"] == ["features.3.*", "classifier.4.*"]
    with pytest.raises(ValueError, match="no parameter matches .nope"):
        fovea.finetune(pretrained=str(tmp_path / "run" / "best.safetensors"), unfreeze="nope.*",
                       out=str(tmp_path / "bad"))


def test_explain_returns_numpy_maps():
    net = fovea.models.create("lenet5").eval()
    x = small_batch(3)
    cam = fovea.explain.grad_cam(net, x, target=3)
    assert isinstance(cam, np.ndarray) and cam.shape == (3, 1, 28, 28) and 0 <= cam.min() and cam.max() <= 1
    sal = fovea.explain.saliency(net, x, target=[0, 1, 2])
    assert sal.shape == (3, 1, 28, 28) and (sal >= 0).all()
    maps = fovea.explain.explain(net, x, methods=["vanilla", "gradcam", "guided-gradcam"])
    assert set(maps) >= {"vanilla", "gradcam", "guided-gradcam", "logits", "target", "layer"}
    np.testing.assert_array_equal(maps["target"], np.asarray(net(x)).argmax(1))
    feats = fovea.explain.feature_maps(net, x, ["features.0"])
    assert feats["features.0"].shape == (3, 6, 28, 28)
    before = {k: np.asarray(v).copy() for k, v in net.state_dict().items()}
    steps = fovea.explain.sanity_check(net, x, ["classifier.4", "features.3"], methods=["vanilla", "gradcam"])
    assert [s["layer"] for s in steps] == ["classifier.4", "features.3"]
    assert all(-1 <= s["rank_correlation"]["vanilla"] <= 1 for s in steps)
    assert all((np.asarray(v) == before[k]).all() for k, v in net.state_dict().items())  # weights restored


def test_newer_explanations_and_faithfulness():
    net = fovea.models.create("lenet5").eval()
    x = small_batch(3)
    for f in (fovea.explain.grad_cam_pp, fovea.explain.score_cam, fovea.explain.layer_cam):
        cam = f(net, x, target=[1, 2, 3])
        assert cam.shape == (3, 1, 28, 28) and 0 <= cam.min() and cam.max() <= 1, f.__name__
    fused = fovea.explain.layer_cam(net, x, layers=["features.0", "features.3"])
    assert fused.shape == (3, 1, 28, 28)
    attr, total, gap = fovea.explain.integrated_gradients(net, x, target=4, steps=64)
    assert attr.shape == (3, 1, 28, 28)
    np.testing.assert_allclose(total, gap, rtol=0.05, atol=1e-3)  # completeness
    np.testing.assert_allclose(attr.reshape(3, -1).sum(1), total, rtol=1e-4, atol=1e-5)
    zero = fovea.explain.integrated_gradients(net, x, target=4, steps=8, baseline=np.zeros((1, 1, 28, 28), np.float32))
    np.testing.assert_allclose(zero[0], fovea.explain.integrated_gradients(net, x, target=4, steps=8)[0], rtol=1e-6)
    top = fovea.explain.predicted_classes(net, x, top=2)
    assert top.shape == (3, 2)
    np.testing.assert_array_equal(top[:, 0], np.asarray(net(x)).argmax(1))
    f = fovea.explain.faithfulness(net, x, fovea.explain.grad_cam(net, x), steps=10)
    assert f["deletion"].shape == (3, 11) and f["deletion_auc"].shape == (3,)
    assert 0 <= f["average_drop"] <= 100 and 0 <= f["increase"] <= 100
    maps = fovea.explain.explain(net, x, methods=["integrated-gradients", "gradcam++"])
    assert {"ig_sum", "ig_score_gap", "gradcam++"} <= set(maps)
    with pytest.raises(ValueError, match="unknown baseline 'black'"):
        fovea.explain.integrated_gradients(net, x, baseline="black")
    with pytest.raises(ValueError, match="does not match"):
        fovea.explain.faithfulness(net, x, np.zeros((3, 1, 8, 8), np.float32))


def test_errors_are_python_exceptions_with_foveas_message(tmp_path):
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        fovea.models.create("nope")
    net = fovea.models.create("lenet5")
    with pytest.raises(ValueError, match=r"\[conv2d\]"):
        net(np.zeros((2, 3, 28, 28), dtype=np.float32))
    with pytest.raises(ValueError, match="target: 2 classes given for 3 images"):
        fovea.explain.grad_cam(net, small_batch(3), target=[1, 2])
    with pytest.raises(TypeError, match="unknown keyword 'epoch'"):
        fovea.train(epoch=3)
    with pytest.raises(TypeError, match="lr='fast' must be a number"):
        fovea.train(lr="fast")
    with pytest.raises(ValueError, match=r"\[train\] .*batch size"):
        fovea.train(batch_size=0, out=str(tmp_path / "x"))
    with pytest.raises(fovea.Error) as e:
        fovea.load(str(tmp_path / "missing.safetensors"))
    assert isinstance(e.value, RuntimeError) and "missing.safetensors" in str(e.value)


def test_the_gil_is_released_during_a_forward_pass():
    net = fovea.models.create("resnet18", num_classes=10, in_channels=3).eval()
    x = np.random.default_rng(0).random((8, 3, 160, 160), dtype=np.float32)
    ticks = []
    done = threading.Event()

    def count():
        while not done.is_set():
            ticks.append(1)
            time.sleep(0.001)

    counter = threading.Thread(target=count)
    counter.start()
    time.sleep(0.01)
    before = len(ticks)
    t0 = time.time()
    net(x)
    elapsed = time.time() - t0
    done.set()
    counter.join()
    # a held GIL would leave the counter at most a tick or two over the whole call
    assert len(ticks) - before > min(20, elapsed / 0.004), (len(ticks) - before, elapsed)


def test_ctrl_c_stops_training_cleanly_and_resume_finishes(tmp_path):
    out = str(tmp_path / "run")
    timer = threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt, match="resume=True"):
        fovea.train(model="lenet5", epochs=6, limit_train=20000, limit_test=200, out=out)
    timer.cancel()
    assert os.path.exists(os.path.join(out, "last.safetensors"))
    run = fovea.train(out=out, resume=True)
    assert run["epochs_done"] == 6


def test_import_from_the_repository_root_finds_the_extension():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    r = subprocess.run([sys.executable, "-c", "import fovea; print(fovea.__file__); print(fovea.Tensor)"],
                       cwd=SOURCE, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "__init__.py" in r.stdout and "fovea._fovea.Tensor" in r.stdout
