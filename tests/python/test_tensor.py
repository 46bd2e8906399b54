"""fovea.Tensor from Python: NumPy and PyTorch memory shared without copies, every dtype both ways,
views keeping their strides, autograd against PyTorch, errors, reference counts."""
import gc
import sys

import numpy as np
import pytest
import torch

import fovea

DTYPES = [np.float32, np.float64, np.int64, np.uint8]


@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip_of_every_dtype_shares_memory(dtype):
    a = (np.arange(24) % 200).astype(dtype).reshape(2, 3, 4)
    t = fovea.tensor(a)
    assert t.shape == (2, 3, 4) and t.dtype == np.dtype(dtype).name
    b = np.asarray(t)
    assert b.dtype == a.dtype and b.shape == a.shape
    np.testing.assert_array_equal(b, a)
    # one memory: writes through NumPy show in fovea, writes through fovea show in NumPy
    a[1, 2, 3] = 7
    assert t.numpy()[1, 2, 3] == 7
    t.fill_(3)
    assert (a == 3).all() and (b == 3).all()


def test_fovea_tensors_are_numpy_arrays_without_copies():
    t = fovea.zeros((3, 4))
    v = np.asarray(t)
    v[0, 1] = 5.0
    assert t.tolist()[0][1] == 5.0
    assert np.asarray(t).__array_interface__["data"][0] == v.__array_interface__["data"][0]


def test_views_keep_their_strides():
    a = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    view = a[:, 1:, ::2]  # not contiguous
    t = fovea.tensor(view)
    assert t.shape == view.shape
    back = np.asarray(t)
    assert back.strides == view.strides
    np.testing.assert_array_equal(back, view)
    view[0, 0, 0] = -1
    assert back[0, 0, 0] == -1  # still the same memory
    tt = fovea.tensor(a).transpose(0, 2)  # a fovea view exported to NumPy
    np.testing.assert_array_equal(np.asarray(tt), a.transpose(2, 1, 0))


def test_layouts_fovea_cannot_view_are_copied():
    a = np.arange(10, dtype=np.float32)
    t = fovea.tensor(a[::-1])  # negative strides
    np.testing.assert_array_equal(np.asarray(t), a[::-1])
    r = np.arange(4, dtype=np.float64)
    r.flags.writeable = False
    t = fovea.tensor(r)  # read-only: fovea must not write into it
    t.fill_(9)
    assert (r == np.arange(4)).all()
    c = np.ones(3, dtype=np.float32)
    t = fovea.tensor(c, copy=True)
    t.fill_(2)
    assert (c == 1).all()


def test_unsupported_dtypes_name_what_is_supported():
    with pytest.raises(ValueError, match="float32, float64, int64 and uint8"):
        fovea.tensor(np.zeros(3, dtype=np.int32))


def test_dlpack_both_ways_without_copies():
    x = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    t = fovea.tensor(x)  # through __dlpack__
    x[0, 0] = 42
    assert t.tolist()[0][0] == 42
    back = torch.from_dlpack(t)
    t.fill_(1.5)
    assert back.sum().item() == 18.0 and back.data_ptr() == x.data_ptr()
    n = np.from_dlpack(fovea.ones((2, 2), dtype="float64"))
    assert n.dtype == np.float64 and n.sum() == 4
    s = fovea.from_dlpack(torch.arange(6, dtype=torch.int64)[::2])  # strided
    assert s.tolist() == [0, 2, 4]


def test_gradients_equal_pytorchs():
    rng = np.random.default_rng(0)
    xa, wa = rng.standard_normal((4, 5)).astype(np.float32), rng.standard_normal((5, 3)).astype(np.float32)
    x = fovea.tensor(xa, copy=True, requires_grad=True)
    w = fovea.tensor(wa, copy=True, requires_grad=True)
    loss = ((x @ w) * 2.0 - 1.0).mean()
    loss.backward()
    xt, wt = torch.tensor(xa, requires_grad=True), torch.tensor(wa, requires_grad=True)
    ((xt @ wt) * 2.0 - 1.0).mean().backward()
    assert abs(loss.item() - ((xt @ wt) * 2.0 - 1.0).mean().item()) < 1e-5
    np.testing.assert_allclose(np.asarray(x.grad), xt.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(w.grad), wt.grad.numpy(), rtol=1e-5, atol=1e-6)
    assert x.is_leaf and not loss.is_leaf
    with fovea.no_grad():
        assert not (x @ w).requires_grad


def test_a_network_and_its_input_gradient_equal_pytorchs():
    net = fovea.models.create("lenet5")
    tnet = torch.nn.Sequential()
    tnet.add_module("features", torch.nn.Sequential(
        torch.nn.Conv2d(1, 6, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(6, 16, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2)))
    tnet.add_module("flatten", torch.nn.Flatten())
    tnet.add_module("classifier", torch.nn.Sequential(
        torch.nn.Linear(400, 120), torch.nn.ReLU(), torch.nn.Linear(120, 84), torch.nn.ReLU(), torch.nn.Linear(84, 10)))
    tnet.load_state_dict({k: torch.from_numpy(np.asarray(v).copy()) for k, v in net.state_dict().items()})
    xa = np.random.default_rng(1).random((2, 1, 28, 28), dtype=np.float32)
    x = fovea.tensor(xa, copy=True, requires_grad=True)
    y = net(x)
    y.sum().backward()
    xt = torch.tensor(xa, requires_grad=True)
    yt = tnet(xt)
    yt.sum().backward()
    np.testing.assert_allclose(np.asarray(y.detach()), yt.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(x.grad), xt.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_no_reference_is_leaked_over_a_thousand_calls():
    a = np.ones((8, 8), dtype=np.float32)
    base = sys.getrefcount(a)
    for _ in range(1000):
        t = fovea.tensor(a)
        v = np.asarray(t)
        del t, v
    gc.collect()
    assert sys.getrefcount(a) == base
    t = fovea.zeros((4,))
    base = sys.getrefcount(t)
    for _ in range(1000):
        v = np.asarray(t)
        c = torch.from_dlpack(t)
        del v, c
    gc.collect()
    assert sys.getrefcount(t) == base


def test_memory_outlives_the_python_object_it_came_from():
    a = np.arange(5, dtype=np.float32)
    t = fovea.tensor(a)
    del a
    gc.collect()
    assert t.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    v = np.asarray(fovea.ones((3,)))  # the tensor's only handle is the array's
    gc.collect()
    assert v.sum() == 3
