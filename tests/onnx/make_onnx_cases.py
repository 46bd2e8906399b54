#!/usr/bin/python3
"""Writes the single-op ONNX fixtures of tests/onnx/test_onnx_ops.cpp: one small model per op and
attribute combination (built with onnx.helper) with its expected output (computed with PyTorch
from the ONNX definition), plus malformed models for the error tests.
Usage: /usr/bin/python3 tests/onnx/make_onnx_cases.py [OUT_DIR]  (default tests/onnx/fixtures)
Writes OUT/NAME.onnx, OUT/cases.safetensors ("NAME.in0", ..., "NAME.out0") and OUT/cases.txt."""
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from torch2safetensors import write_safetensors  # noqa: E402

RNG = np.random.default_rng(7)
CASES = {}
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


def rnd(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


def model(name, nodes, inputs, outputs, inits=(), opset=13):
    """inputs: list of numpy arrays (graph inputs in0, in1, ...); outputs: list of numpy arrays."""
    g = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info(f"in{i}", TensorProto.FLOAT, a.shape) for i, a in enumerate(inputs)],
        [helper.make_tensor_value_info(f"out{i}", TensorProto.FLOAT, tuple(a.shape)) for i, a in enumerate(outputs)],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in inits])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="fovea-tests")
    m.ir_version = 7
    assert name not in CASES, name
    CASES[name] = (m, inputs, [np.asarray(o, dtype=np.float32) for o in outputs])


def node(op, inputs, outputs=("out0",), **attrs):
    return helper.make_node(op, list(inputs), list(outputs), name=f"my/{op}.node", **attrs)


def same_pads(n, k, s, d, lower):
    out = (n + s - 1) // s
    total = max((out - 1) * s + d * (k - 1) + 1 - n, 0)
    return (total - total // 2, total // 2) if lower else (total // 2, total - total // 2)


def conv_cases():
    x = rnd(2, 3, 8, 8)
    w, b = rnd(4, 3, 3, 3), rnd(4)
    model("conv_pads1", [node("Conv", ["in0", "w", "b"], pads=[1, 1, 1, 1])], [x],
          [F.conv2d(t(x), t(w), t(b), padding=1)], [("w", w), ("b", b)])
    model("conv_stride2_nobias", [node("Conv", ["in0", "w"], strides=[2, 2], kernel_shape=[3, 3])], [x],
          [F.conv2d(t(x), t(w), stride=2)], [("w", w)])
    model("conv_dilation2", [node("Conv", ["in0", "w", "b"], dilations=[2, 2], pads=[2, 2, 2, 2])], [x],
          [F.conv2d(t(x), t(w), t(b), padding=2, dilation=2)], [("w", w), ("b", b)], opset=11)
    x4, wg = rnd(1, 4, 7, 7), rnd(6, 2, 3, 3)
    model("conv_group2", [node("Conv", ["in0", "w"], group=2, pads=[1, 1, 1, 1])], [x4],
          [F.conv2d(t(x4), t(wg), padding=1, groups=2)], [("w", wg)])
    wd = rnd(4, 1, 3, 3)
    model("conv_depthwise", [node("Conv", ["in0", "w"], group=4, strides=[2, 2])], [x4],
          [F.conv2d(t(x4), t(wd), stride=2, groups=4)], [("w", wd)], opset=17)
    model("conv_asym_pads", [node("Conv", ["in0", "w", "b"], pads=[1, 0, 2, 1])], [x],
          [F.conv2d(F.pad(t(x), (0, 1, 1, 2)), t(w), t(b))], [("w", w), ("b", b)])
    x7 = rnd(1, 3, 7, 7)
    for mode in ["SAME_UPPER", "SAME_LOWER"]:
        ph, pw = same_pads(7, 3, 2, 1, mode == "SAME_LOWER"), same_pads(7, 3, 2, 1, mode == "SAME_LOWER")
        model(f"conv_auto_{mode.lower()}", [node("Conv", ["in0", "w", "b"], auto_pad=mode, strides=[2, 2])], [x7],
              [F.conv2d(F.pad(t(x7), (pw[0], pw[1], ph[0], ph[1])), t(w), t(b), stride=2)], [("w", w), ("b", b)])
    x6 = rnd(1, 3, 6, 6)
    ph = same_pads(6, 3, 1, 2, True)
    model("conv_auto_same_lower_dilated", [node("Conv", ["in0", "w"], auto_pad="SAME_LOWER", dilations=[2, 2])], [x6],
          [F.conv2d(F.pad(t(x6), (ph[0], ph[1], ph[0], ph[1])), t(w), dilation=2)], [("w", w)])
    model("conv_auto_valid", [node("Conv", ["in0", "w"], auto_pad="VALID")], [x7], [F.conv2d(t(x7), t(w))], [("w", w)])
    wr = rnd(2, 3, 3, 1)
    model("conv_rect_kernel", [node("Conv", ["in0", "w"], kernel_shape=[3, 1], pads=[1, 0, 1, 0], strides=[1, 2])],
          [x], [F.conv2d(t(x), t(wr), padding=(1, 0), stride=(1, 2))], [("w", wr)])


def conv_transpose_cases():
    x = rnd(1, 4, 5, 5)
    w, b = rnd(4, 3, 4, 4), rnd(3)
    model("convt_stride2_pads1", [node("ConvTranspose", ["in0", "w", "b"], strides=[2, 2], pads=[1, 1, 1, 1])], [x],
          [F.conv_transpose2d(t(x), t(w), t(b), stride=2, padding=1)], [("w", w), ("b", b)])
    w3 = rnd(4, 3, 3, 3)
    model("convt_output_padding",
          [node("ConvTranspose", ["in0", "w"], strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1])], [x],
          [F.conv_transpose2d(t(x), t(w3), stride=2, padding=1, output_padding=1)], [("w", w3)], opset=11)
    full = F.conv_transpose2d(t(x), t(w3), t(b), stride=2)  # 11x11
    model("convt_output_shape", [node("ConvTranspose", ["in0", "w", "b"], strides=[2, 2], output_shape=[10, 10])],
          [x], [full[:, :, 1:, 1:]], [("w", w3), ("b", b)])
    model("convt_same_upper", [node("ConvTranspose", ["in0", "w"], strides=[2, 2], auto_pad="SAME_UPPER")],
          [x], [F.conv_transpose2d(t(x), t(w3), stride=2)[:, :, 0:10, 0:10]], [("w", w3)])
    wg = rnd(4, 2, 3, 3)
    model("convt_group_dilation", [node("ConvTranspose", ["in0", "w"], group=2, dilations=[2, 2], pads=[1, 1, 1, 1])],
          [x], [F.conv_transpose2d(t(x), t(wg), groups=2, dilation=2, padding=1)], [("w", wg)], opset=17)
    model("convt_asym_pads", [node("ConvTranspose", ["in0", "w"], strides=[2, 2], pads=[0, 1, 1, 0])], [x],
          [F.conv_transpose2d(t(x), t(w3), stride=2)[:, :, 0:-1, 1:]], [("w", w3)])


def linear_cases():
    x, w, b = rnd(3, 5), rnd(4, 5), rnd(4)
    model("gemm_transB", [node("Gemm", ["in0", "w", "b"], transB=1)], [x], [F.linear(t(x), t(w), t(b))],
          [("w", w), ("b", b)], opset=11)
    model("gemm_plain", [node("Gemm", ["in0", "w", "b"])], [x], [t(x) @ t(w.T.copy()) + t(b)], [("w", w.T.copy()), ("b", b)])
    model("gemm_no_bias", [node("Gemm", ["in0", "w"], transB=1)], [x], [F.linear(t(x), t(w))], [("w", w)])
    c = rnd(3, 4)
    model("gemm_alpha_beta", [node("Gemm", ["in0", "w", "c"], transB=1, alpha=0.5, beta=2.0)], [x],
          [0.5 * F.linear(t(x), t(w)) + 2.0 * t(c)], [("w", w), ("c", c)])
    xt = rnd(5, 3)
    model("gemm_transA", [node("Gemm", ["in0", "w", "b"], transA=1, transB=1)], [xt], [F.linear(t(xt.T.copy()), t(w), t(b))],
          [("w", w), ("b", b)])
    y = rnd(5, 4)
    model("gemm_two_inputs", [node("Gemm", ["in0", "in1"])], [x, y], [t(x) @ t(y)])
    x3, m = rnd(2, 3, 5), rnd(5, 4)
    model("matmul_const", [node("MatMul", ["in0", "m"])], [x3], [t(x3) @ t(m)], [("m", m)])
    y3 = rnd(2, 5, 2)
    model("matmul_two_inputs", [node("MatMul", ["in0", "in1"])], [x3, y3], [t(x3) @ t(y3)])


def norm_cases():
    x = rnd(2, 3, 4, 4)
    s, b, mu, var = rnd(3), rnd(3), rnd(3), RNG.uniform(0.5, 1.5, 3).astype(np.float32)
    model("batchnorm", [node("BatchNormalization", ["in0", "s", "b", "mu", "var"], epsilon=1e-3)], [x],
          [F.batch_norm(t(x), t(mu), t(var), t(s), t(b), False, 0.1, 1e-3)],
          [("s", s), ("b", b), ("mu", mu), ("var", var)])
    model("batchnorm_opset9", [node("BatchNormalization", ["in0", "s", "b", "mu", "var"])], [x],
          [F.batch_norm(t(x), t(mu), t(var), t(s), t(b), False, 0.1, 1e-5)],
          [("s", s), ("b", b), ("mu", mu), ("var", var)], opset=9)
    x8 = rnd(1, 8, 3, 3)
    model("lrn", [node("LRN", ["in0"], size=5, alpha=0.01, beta=0.75, bias=2.0)], [x8],
          [F.local_response_norm(t(x8), 5, alpha=0.01, beta=0.75, k=2.0)])
    model("lrn_size3_defaults", [node("LRN", ["in0"], size=3)], [x8], [F.local_response_norm(t(x8), 3)])


def activation_cases():
    x = rnd(2, 3, 4, 4) * 4
    for op, f, kw, opset in [("Relu", F.relu, {}, 13), ("LeakyRelu", lambda v: F.leaky_relu(v, 0.2), {"alpha": 0.2}, 13),
                             ("LeakyRelu", lambda v: F.leaky_relu(v, 0.01), {}, 11), ("Sigmoid", torch.sigmoid, {}, 13),
                             ("Tanh", torch.tanh, {}, 13), ("HardSwish", F.hardswish, {}, 14),
                             ("Elu", lambda v: F.elu(v, 0.5), {"alpha": 0.5}, 13),
                             ("HardSigmoid", lambda v: torch.clamp(v * 0.3 + 0.4, 0, 1), {"alpha": 0.3, "beta": 0.4}, 13)]:
        name = (op.lower() + ("_" + "_".join(f"{k}{v}" for k, v in kw.items()) if kw else "") + f"_op{opset}").replace(".", "p")
        model(name, [node(op, ["in0"], **kw)], [x], [f(t(x))], opset=opset)
    lo, hi = np.array(0, np.float32), np.array(6, np.float32)
    model("clip_inputs", [node("Clip", ["in0", "lo", "hi"])], [x], [torch.clamp(t(x), 0, 6)], [("lo", lo), ("hi", hi)])
    model("clip_min_only", [node("Clip", ["in0", "lo"])], [x], [torch.clamp(t(x), min=0)], [("lo", lo)], opset=12)
    model("clip_max_only", [node("Clip", ["in0", "", "hi"])], [x], [torch.clamp(t(x), max=6)], [("hi", hi)])
    model("clip_attrs_opset10", [node("Clip", ["in0"], min=-1.0, max=1.5)], [x], [torch.clamp(t(x), -1, 1.5)], opset=10)
    for op, f in [("Softmax", torch.softmax), ("LogSoftmax", torch.log_softmax)]:
        flat = f(t(x).reshape(2, -1), 1).reshape(x.shape)
        model(f"{op.lower()}_axis1_opset11", [node(op, ["in0"], axis=1)], [x], [flat], opset=11)
        model(f"{op.lower()}_default_opset11", [node(op, ["in0"])], [x], [flat], opset=11)
        model(f"{op.lower()}_axis1_opset13", [node(op, ["in0"], axis=1)], [x], [f(t(x), 1)], opset=13)
        model(f"{op.lower()}_default_opset13", [node(op, ["in0"])], [x], [f(t(x), -1)], opset=13)
        model(f"{op.lower()}_last_opset11", [node(op, ["in0"], axis=3)], [x], [f(t(x), 3)], opset=11)
    model("dropout_opset11", [node("Dropout", ["in0"], ratio=0.3)], [x], [t(x)], opset=11)
    model("dropout_ratio_input", [node("Dropout", ["in0", "r"])], [x], [t(x)], [("r", np.array(0.2, np.float32))])
    model("identity", [node("Identity", ["in0"])], [x], [t(x)])


def pool_cases():
    x = rnd(2, 3, 7, 7)
    mp = lambda **kw: [F.max_pool2d(t(x), **kw)]  # noqa: E731
    model("maxpool_k2", [node("MaxPool", ["in0"], kernel_shape=[2, 2], strides=[2, 2])], [x], mp(kernel_size=2))
    model("maxpool_k3s2p1", [node("MaxPool", ["in0"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])], [x],
          mp(kernel_size=3, stride=2, padding=1))
    model("maxpool_ceil", [node("MaxPool", ["in0"], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)], [x],
          mp(kernel_size=2, stride=2, ceil_mode=True), opset=11)
    x8 = rnd(1, 2, 8, 8)
    model("maxpool_ceil_pad", [node("MaxPool", ["in0"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1)],
          [x8], [F.max_pool2d(t(x8), 3, 2, 1, ceil_mode=True)], opset=11)
    model("maxpool_stride1_default", [node("MaxPool", ["in0"], kernel_shape=[3, 3])], [x], mp(kernel_size=3, stride=1))
    model("maxpool_dilation2", [node("MaxPool", ["in0"], kernel_shape=[2, 2], dilations=[2, 2])], [x],
          mp(kernel_size=2, stride=1, dilation=2))
    model("maxpool_dilation_ceil", [node("MaxPool", ["in0"], kernel_shape=[2, 2], strides=[2, 2], dilations=[2, 2], ceil_mode=1)],
          [x8], [F.max_pool2d(t(x8), 2, 2, dilation=2, ceil_mode=True)])
    neg = -np.inf
    model("maxpool_asym_pads", [node("MaxPool", ["in0"], kernel_shape=[3, 3], strides=[2, 2], pads=[0, 1, 1, 0])], [x],
          [F.max_pool2d(F.pad(t(x), (1, 0, 0, 1), value=neg), 3, 2)])
    p = same_pads(7, 3, 2, 1, False)
    model("maxpool_same_upper", [node("MaxPool", ["in0"], kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER")], [x],
          [F.max_pool2d(F.pad(t(x), (p[0], p[1], p[0], p[1]), value=neg), 3, 2)])
    model("maxpool_rect", [node("MaxPool", ["in0"], kernel_shape=[3, 2], strides=[2, 1])], [x], mp(kernel_size=(3, 2), stride=(2, 1)))
    ap = lambda **kw: [F.avg_pool2d(t(x), **kw)]  # noqa: E731
    model("avgpool_k2", [node("AveragePool", ["in0"], kernel_shape=[2, 2], strides=[2, 2])], [x], ap(kernel_size=2))
    model("avgpool_pads_include", [node("AveragePool", ["in0"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1)],
          [x], ap(kernel_size=3, stride=2, padding=1, count_include_pad=True))
    model("avgpool_pads_exclude", [node("AveragePool", ["in0"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])],
          [x], ap(kernel_size=3, stride=2, padding=1, count_include_pad=False), opset=11)
    model("avgpool_ceil", [node("AveragePool", ["in0"], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)], [x],
          ap(kernel_size=2, stride=2, ceil_mode=True))
    model("avgpool_ceil_pads_include", [node("AveragePool", ["in0"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1, count_include_pad=1)],
          [x8], [F.avg_pool2d(t(x8), 3, 2, 1, ceil_mode=True, count_include_pad=True)])
    ones = torch.ones(1, 1, 7, 7)
    padded = F.pad(t(x), (1, 0, 0, 1))
    summed = F.avg_pool2d(padded, 3, 2) / F.avg_pool2d(F.pad(ones, (1, 0, 0, 1)), 3, 2)
    model("avgpool_asym_exclude", [node("AveragePool", ["in0"], kernel_shape=[3, 3], strides=[2, 2], pads=[0, 1, 1, 0])],
          [x], [summed])
    model("avgpool_asym_include", [node("AveragePool", ["in0"], kernel_shape=[3, 3], strides=[2, 2], pads=[0, 1, 1, 0], count_include_pad=1)],
          [x], [F.avg_pool2d(padded, 3, 2)])
    model("global_avgpool", [node("GlobalAveragePool", ["in0"])], [x], [t(x).mean((2, 3), keepdim=True)])
    model("global_maxpool", [node("GlobalMaxPool", ["in0"])], [x], [t(x).amax((2, 3), keepdim=True)])


def elementwise_cases():
    x = rnd(2, 3, 4, 4)
    c = rnd(3, 1, 1)
    y = rnd(1, 3, 1, 4)
    for op, f in [("Add", torch.add), ("Sub", torch.sub), ("Mul", torch.mul), ("Div", torch.div)]:
        model(f"{op.lower()}_const_broadcast", [node(op, ["in0", "c"])], [x], [f(t(x), t(c))], [("c", c)])
        model(f"{op.lower()}_two_inputs", [node(op, ["in0", "in1"])], [x, y], [f(t(x), t(y))])
        model(f"{op.lower()}_scalar_first", [node(op, ["s", "in0"])], [x], [f(torch.tensor(1.5), t(x))],
              [("s", np.array(1.5, np.float32))])


def shape_cases():
    x, y = rnd(2, 3, 4, 5), rnd(2, 2, 4, 5)
    model("concat_axis1", [node("Concat", ["in0", "in1"], axis=1)], [x, y], [torch.cat([t(x), t(y)], 1)])
    model("concat_neg_axis_const", [node("Concat", ["in0", "c"], axis=-1)], [x], [torch.cat([t(x), t(x[:, :, :, :2])], -1)],
          [("c", x[:, :, :, :2].copy())])
    for axis in [1, 0, 2, -1]:
        xs = x.shape
        outer = int(np.prod(xs[:axis % 4]))
        model(f"flatten_axis{axis}".replace("-", "m"), [node("Flatten", ["in0"], axis=axis)], [x], [t(x).reshape(outer, -1)],
              opset=11 if axis == 0 else 13)
    model("reshape_zero_minus1", [node("Reshape", ["in0", "s"])], [x], [t(x).reshape(2, -1)],
          [("s", np.array([0, -1], np.int64))])
    model("reshape_4d", [node("Reshape", ["in0", "s"])], [x], [t(x).reshape(2, 3, 10, 2)],
          [("s", np.array([0, 0, -1, 2], np.int64))])
    model("transpose_perm", [node("Transpose", ["in0"], perm=[0, 2, 3, 1])], [x], [t(x).permute(0, 2, 3, 1)])
    model("transpose_default", [node("Transpose", ["in0"])], [x], [t(x).permute(3, 2, 1, 0)])
    x1 = rnd(2, 1, 3, 1)
    model("squeeze_attr_opset11", [node("Squeeze", ["in0"], axes=[1])], [x1], [t(x1).squeeze(1)], opset=11)
    model("squeeze_input_opset13", [node("Squeeze", ["in0", "a"])], [x1], [t(x1).squeeze(3).squeeze(1)],
          [("a", np.array([1, -1], np.int64))])
    model("squeeze_all", [node("Squeeze", ["in0"])], [x1], [t(x1).squeeze()])
    x2 = rnd(2, 3)
    model("unsqueeze_attr_opset11", [node("Unsqueeze", ["in0"], axes=[0, 3])], [x2], [t(x2).reshape(1, 2, 3, 1)], opset=11)
    model("unsqueeze_input_opset13", [node("Unsqueeze", ["in0", "a"])], [x2], [t(x2).reshape(2, 1, 3, 1)],
          [("a", np.array([1, -1], np.int64))])
    pads = np.array([0, 0, 1, 2, 0, 0, 3, 1], np.int64)
    model("pad_input_value", [node("Pad", ["in0", "p", "v"])], [x], [F.pad(t(x), (2, 1, 1, 3), value=1.5)],
          [("p", pads), ("v", np.array(1.5, np.float32))])
    model("pad_input_default", [node("Pad", ["in0", "p"])], [x], [F.pad(t(x), (2, 1, 1, 3))], [("p", pads)], opset=11)
    model("pad_attr_opset9", [node("Pad", ["in0"], pads=[0, 0, 1, 0, 0, 0, 0, 2], value=-1.0)], [x],
          [F.pad(t(x), (0, 2, 1, 0), value=-1.0)], opset=9)
    model("gather_float_indices", [node("Gather", ["in0", "i"], axis=1)], [x], [t(x)[:, [2, 0]]],
          [("i", np.array([2, 0], np.int64))])
    model("gather_scalar_negative", [node("Gather", ["in0", "i"], axis=-1)], [x], [t(x)[..., -2]],
          [("i", np.array(-2, np.int64))])
    big = np.iinfo(np.int64).max
    model("slice_inputs", [node("Slice", ["in0", "st", "en", "ax", "sp"])], [x], [t(x)[:, :, 1:big, -4:5:2]],
          [("st", np.array([1, -4], np.int64)), ("en", np.array([big, 5], np.int64)),
           ("ax", np.array([2, -1], np.int64)), ("sp", np.array([1, 2], np.int64))])
    model("slice_no_axes", [node("Slice", ["in0", "st", "en"])], [x], [t(x)[0:1, 1:3]],
          [("st", np.array([0, 1], np.int64)), ("en", np.array([1, 3], np.int64))], opset=11)
    model("slice_attrs_opset9", [node("Slice", ["in0"], starts=[1], ends=[3], axes=[3])], [x], [t(x)[..., 1:3]], opset=9)
    # torch's export of x.view(x.size(0), -1): Shape, Gather, Unsqueeze, Concat, Reshape
    for opset in [11, 13]:
        axes = {"axes": [0]} if opset < 13 else {}
        unsq = ["n"] if opset < 13 else ["n", "zero"]
        inits = [("idx", np.array(0, np.int64)), ("minus1", np.array([-1], np.int64))]
        if opset >= 13:
            inits.append(("zero", np.array([0], np.int64)))
        model(f"view_batch_pattern_opset{opset}",
              [node("Shape", ["in0"], ["s"]), node("Gather", ["s", "idx"], ["n"], axis=0),
               node("Unsqueeze", unsq, ["nu"], **axes), node("Concat", ["nu", "minus1"], ["shape"], axis=0),
               node("Reshape", ["in0", "shape"])], [x], [t(x).reshape(2, -1)], inits, opset=opset)
    model("shape_slice_cast_constofshape",
          [node("Shape", ["in0"], ["s"]), node("Slice", ["s", "st", "en"], ["hw"]), node("Cast", ["hw"], ["hwf"], to=1),
           node("ConstantOfShape", ["hw"], ["z"], value=numpy_helper.from_array(np.array([2.0], np.float32))),
           node("Mul", ["z", "k"], ["zk"]), node("Add", ["in0", "zk"])],
          [x], [t(x) + 2.0 * 3.0], [("st", np.array([2], np.int64)), ("en", np.array([4], np.int64)),
                                   ("k", np.array(3.0, np.float32))])
    model("constant_value", [node("Constant", [], ["c"], value=numpy_helper.from_array(np.array([[2.0]], np.float32))),
                             node("Mul", ["in0", "c"])], [x], [t(x) * 2])
    model("constant_value_floats", [node("Constant", [], ["c"], value_floats=[1.0, 2.0, 3.0, 4.0, 5.0]),
                                    node("Add", ["in0", "c"])], [x], [t(x) + torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])])


def resize_cases():
    x = rnd(1, 2, 4, 5)
    sc = np.array([1, 1, 2, 2], np.float32)
    roi = np.array([], np.float32)
    size = np.array([1, 2, 7, 9], np.int64)
    model("resize_nearest_scales", [node("Resize", ["in0", "roi", "sc"], mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")],
          [x], [F.interpolate(t(x), scale_factor=2, mode="nearest")], [("roi", roi), ("sc", sc)], opset=11)
    model("resize_nearest_sizes", [node("Resize", ["in0", "", "", "sz"], mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")],
          [x], [F.interpolate(t(x), size=(7, 9), mode="nearest")], [("sz", size)], opset=13)
    model("resize_linear_align_corners", [node("Resize", ["in0", "", "", "sz"], mode="linear", coordinate_transformation_mode="align_corners")],
          [x], [F.interpolate(t(x), size=(7, 9), mode="bilinear", align_corners=True)], [("sz", size)])
    model("resize_linear_half_pixel", [node("Resize", ["in0", "", "sc"], mode="linear", coordinate_transformation_mode="half_pixel")],
          [x], [F.interpolate(t(x), scale_factor=2, mode="bilinear", align_corners=False)], [("sc", sc)])
    model("resize_linear_pytorch_half_pixel", [node("Resize", ["in0", "roi", "sc"], mode="linear", coordinate_transformation_mode="pytorch_half_pixel")],
          [x], [F.interpolate(t(x), scale_factor=2, mode="bilinear", align_corners=False)], [("roi", roi), ("sc", sc)], opset=11)
    model("resize_opset10_nearest", [node("Resize", ["in0", "sc"], mode="nearest")], [x],
          [F.interpolate(t(x), scale_factor=2, mode="nearest")], [("sc", sc)], opset=10)
    model("upsample_opset9_nearest", [node("Upsample", ["in0", "sc"], mode="nearest")], [x],
          [F.interpolate(t(x), scale_factor=2, mode="nearest")], [("sc", sc)], opset=9)
    # sizes computed at run time from another input's shape (F.interpolate(x, size=y.shape[2:]))
    y = rnd(1, 1, 6, 10)
    model("resize_runtime_sizes",
          [node("Shape", ["in0"], ["s0"]), node("Slice", ["s0", "zero", "two"], ["nc"]),
           node("Shape", ["in1"], ["s1"]), node("Slice", ["s1", "two", "four"], ["hw"]),
           node("Concat", ["nc", "hw"], ["sz"], axis=0),
           node("Resize", ["in0", "", "", "sz"], mode="linear", coordinate_transformation_mode="align_corners")],
          [x, y], [F.interpolate(t(x), size=(6, 10), mode="bilinear", align_corners=True)],
          [("zero", np.array([0], np.int64)), ("two", np.array([2], np.int64)), ("four", np.array([4], np.int64))])


def opset18_cases():
    """The forms opset 18 introduced (onnx 1.12's checker stops at 17, so these are not checked)"""
    x = rnd(2, 8, 4, 6)
    model("reduce_mean_axes_input_opset18", [node("ReduceMean", ["in0", "axes"], keepdims=0)], [x],
          [t(x).mean((2, 3))], [("axes", np.array([2, 3], np.int64))], opset=18)
    model("reduce_max_noop_empty_axes_opset18", [node("ReduceMax", ["in0"], noop_with_empty_axes=1)], [x], [x],
          opset=18)
    model("pad_axes_reflect_opset18", [node("Pad", ["in0", "p", "", "axes"], mode="reflect")], [x],
          [F.pad(t(x).reshape(16, 4, 6), (1, 2), mode="reflect").reshape(2, 8, 4, 9)],
          [("p", np.array([1, 2], np.int64)), ("axes", np.array([3], np.int64))],
          opset=18)
    model("split_num_outputs_opset18", [node("Split", ["in0"], ["out0", "out1", "out2"], axis=1, num_outputs=3)], [x],
          [x[:, :3], x[:, 3:6], x[:, 6:]], opset=18)
    model("resize_axes_opset18", [node("Resize", ["in0", "", "s"], mode="nearest", axes=[2, 3],
                                       coordinate_transformation_mode="asymmetric", nearest_mode="floor")], [x],
          [F.interpolate(t(x), scale_factor=(2, 3), mode="nearest")], [("s", np.array([2.0, 3.0], np.float32))],
          opset=18)


def bad_cases(out):
    """Malformed models for the error tests: OUT/bad_NAME.onnx"""
    x = helper.make_tensor_value_info("in0", TensorProto.FLOAT, [1, 1, 4, 4])
    y = helper.make_tensor_value_info("out0", TensorProto.FLOAT, [1, 2, 4, 4])

    def save(name, nodes, inits=(), opset=13, inputs=None):
        g = helper.make_graph(nodes, name, inputs if inputs is not None else [x], [y], list(inits))
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
        m.ir_version = 7
        with open(os.path.join(out, f"bad_{name}.onnx"), "wb") as f:
            f.write(m.SerializeToString())

    save("unsupported_op", [node("Relu", ["in0"], ["r"]), helper.make_node("Hardmax", ["r"], ["out0"], name="my_hardmax")])

    def external(location, values=None, **keys):
        w = numpy_helper.from_array(np.array([2.0, -3.0], np.float32).reshape(2, 1, 1, 1) if values is None else values, "w")
        w.ClearField("raw_data")
        w.data_location = TensorProto.EXTERNAL
        w.external_data.add(key="location", value=location)
        for k, v in keys.items():
            w.external_data.add(key=k, value=str(v))
        return w

    save("external_data", [node("Conv", ["in0", "w"])], [external("weights.bin")])
    save("external_escape", [node("Conv", ["in0", "w"])], [external("../../weights.bin")])
    save("external_short", [node("Conv", ["in0", "w"])], [external("external_ok.bin", offset=8)])
    # a valid file with its weights (2, -3) in external_ok.bin after 4 bytes of something else
    with open(os.path.join(out, "external_ok.bin"), "wb") as f:
        f.write(b"\0\0\0\0" + np.array([2.0, -3.0], np.float32).tobytes())
    g = helper.make_graph([node("Conv", ["in0", "w"])], "external_ok", [x], [y], [external("external_ok.bin", offset=4, length=8)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    with open(os.path.join(out, "external_ok.onnx"), "wb") as f:
        f.write(m.SerializeToString())
    # MatMul + Add (fused into one Linear) with the matrix in the external file: (4, 2) = (2, -3) rows
    wm = external("external_ok.bin", values=np.array([[2.0, -3.0]] * 4, np.float32), offset=4, length=8)
    wm.ClearField("dims")
    wm.dims.extend([4, 2])
    wm.external_data[1].value = "0"  # the whole of external_matmul.bin: offset 0, 32 bytes
    wm.external_data[2].value = "32"
    with open(os.path.join(out, "external_matmul.bin"), "wb") as f:
        f.write(np.array([[2.0, -3.0]] * 4, np.float32).tobytes())
    wm.external_data[0].value = "external_matmul.bin"
    g = helper.make_graph([node("MatMul", ["in0", "w"], ["mm"]), node("Add", ["mm", "b"])], "external_matmul",
                          [helper.make_tensor_value_info("in0", TensorProto.FLOAT, [1, 1, 4, 4])],
                          [helper.make_tensor_value_info("out0", TensorProto.FLOAT, [1, 1, 4, 2])],
                          [wm, numpy_helper.from_array(np.array([0.5, 1.5], np.float32), "b")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    with open(os.path.join(out, "external_matmul.onnx"), "wb") as f:
        f.write(m.SerializeToString())
    save("missing_initializer", [helper.make_node("Conv", ["in0", "w_missing"], ["out0"], name="conv1")])
    save("cycle", [helper.make_node("Add", ["in0", "b"], ["a"], name="add_a"), helper.make_node("Relu", ["a"], ["b"], name="relu_b"),
                   helper.make_node("Identity", ["b"], ["out0"], name="out")])
    huge = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1 << 21, 1 << 21])
    save("absurd_dims", [node("Conv", ["in0", "w"])], [huge])
    # no elements, yet strides past 2^63 (found by fuzzing)
    empty_huge = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[0, 1 << 40, 1 << 40])
    save("absurd_dims_with_zero", [node("Conv", ["in0", "w"])], [empty_huge])
    # input counts outside the op's schema (found by fuzzing: a Gemm with one input read past its inputs)
    save("gemm_one_input", [node("Gemm", ["in0"])])
    save("relu_two_inputs", [node("Relu", ["in0", "in0"])])
    save("conv_unnamed_weight", [node("Conv", ["in0", ""])])
    # a float tensor where ONNX wants int64, holding a value no integer has (found by fuzzing)
    float_axes = numpy_helper.from_array(np.array([1e30], np.float32), "axes")
    save("float_axes", [node("Unsqueeze", ["in0", "axes"])], [float_axes])
    short = numpy_helper.from_array(rnd(4, 3, 3, 3), "w")
    short.raw_data = short.raw_data[:50]
    save("short_raw_data", [node("Conv", ["in0", "w"])], [short])
    save("opset_too_new", [node("Relu", ["in0"])], opset=19)
    save("opset_too_old", [node("Relu", ["in0"])], opset=5)
    save("runtime_weight", [node("Conv", ["in0", "in1"])],
         inputs=[x, helper.make_tensor_value_info("in1", TensorProto.FLOAT, [2, 1, 1, 1])])
    save("pad_wrap", [node("Pad", ["in0", "p"], mode="wrap")], [numpy_helper.from_array(np.zeros(8, np.int64), "p")])
    with open(os.path.join(out, "bad_not_protobuf.onnx"), "wb") as f:
        f.write(b"\xff\xff\xff\xff this is not an onnx file\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in [conv_cases, conv_transpose_cases, linear_cases, norm_cases, activation_cases, pool_cases, elementwise_cases,
              shape_cases, resize_cases, opset18_cases]:
        f()
    tensors = {}
    for name, (m, inputs, outputs) in sorted(CASES.items()):
        if not name.endswith("opset18"):
            onnx.checker.check_model(m)
        with open(os.path.join(OUT, name + ".onnx"), "wb") as f:
            f.write(m.SerializeToString())
        for i, a in enumerate(inputs):
            tensors[f"{name}.in{i}"] = np.ascontiguousarray(a)
        for i, a in enumerate(outputs):
            tensors[f"{name}.out{i}"] = np.ascontiguousarray(a)
    write_safetensors(os.path.join(OUT, "cases.safetensors"), tensors)
    with open(os.path.join(OUT, "cases.txt"), "w") as f:
        f.write("".join(n + "\n" for n in sorted(CASES)))
    bad_cases(OUT)
    print(f"{len(CASES)} cases written to {OUT}")


if __name__ == "__main__":
    main()
