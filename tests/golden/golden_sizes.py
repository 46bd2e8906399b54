"""Output sizes of conv2d, max_pool2d / avg_pool2d and conv_transpose2d measured with PyTorch over a
grid of sizes, kernels, strides, paddings, dilations and output paddings, for the output-size
formulas of fovea/ops/ops.h (conv_output_size, pool_output_size, conv_transpose_output_size). Imported by make_golden.py; make(save) writes three fixtures, each
one i64 tensor "rows" whose last column is PyTorch's output size."""
import itertools

import torch
import torch.nn.functional as F


def make(save):
    conv, pool, convt = [], [], []
    for n, k, s, p, d in itertools.product(range(1, 12), (1, 2, 3, 5), (1, 2, 3), (0, 1, 2), (1, 2)):
        if n + 2 * p >= d * (k - 1) + 1:
            out = F.conv2d(torch.zeros(1, 1, 1, n), torch.zeros(1, 1, 1, k), stride=(1, s), padding=(0, p),
                           dilation=(1, d)).shape[-1]
            conv.append((n, k, s, p, d, out))
        for ceil in (0, 1):
            if p <= k // 2 and n + 2 * p >= d * (k - 1) + 1:
                out = F.max_pool2d(torch.zeros(1, 1, 1, n), (1, k), (1, s), (0, p), (1, d), ceil_mode=bool(ceil)).shape[-1]
                pool.append((n, k, s, p, d, ceil, out))
        for op in range(0, max(s, d)):
            out_size = (n - 1) * s - 2 * p + d * (k - 1) + op + 1
            if out_size >= 1:
                out = F.conv_transpose2d(torch.zeros(1, 1, 1, n), torch.zeros(1, 1, 1, k), stride=(1, s), padding=(0, p),
                                         output_padding=(0, op), dilation=(1, d)).shape[-1]
                convt.append((n, k, s, p, d, op, out))
    for name, rows, cols in (("sizes_conv", conv, "in,kernel,stride,padding,dilation,out"),
                             ("sizes_pool", pool, "in,kernel,stride,padding,dilation,ceil_mode,out"),
                             ("sizes_conv_transpose", convt, "in,kernel,stride,padding,dilation,output_padding,out")):
        save(name, {"rows": torch.tensor(rows, dtype=torch.int64)}, {"columns": cols})
