"""Golden fixtures for fovea/optim: optimizers, LR schedules and gradient clipping.

Imported by make_golden.py, which passes `save(name, tensors, meta)`. Run with Debian's
PyTorch 1.13 (/usr/bin/python3). The C++ side is tests/optim/test_optim.cpp.

Fixtures (tests/golden/fixtures/<name>.safetensors; options as strings in the metadata):
  optim_problem     "param.init.{p}" and the gradient of every step "grad.{t}.{p}", so the C++
                    test sets p.grad directly and depends on no op but the optimizer's own
  optim_<case>      "param.{t}.{p}": each parameter after step t, for OPTIMIZER_CASES
  sched_<case>      "lr", "momentum": (steps + 1, 2) f64, each group's values after construction
                    and after every scheduler.step()
  optim_clip        clip_grad_norm_ (per case: "{case}.total_norm", "{case}.grad.{p}") and
                    clip_grad_value_ ("value.grad.{p}") on the gradients "grad.{p}"
"""
import math
import warnings

import torch

STEPS = 20           # optimizer steps per case
SCHEDULE_STEPS = 30  # scheduler.step() calls per schedule
SHAPES = [(5, 4), (4,)]


def _f(x):
    """A float as a string that reads back exactly (repr is shortest round-trip)."""
    return repr(float(x))


def _problem():
    g = torch.Generator().manual_seed(20240611)
    init = [torch.randn(s, generator=g) for s in SHAPES]
    grads = [[torch.randn(s, generator=g) * (1.0 + 0.1 * t) for s in SHAPES] for t in range(STEPS)]
    return init, grads


# name -> kind, opts (the torch keyword arguments), groups (per-group overrides, one parameter in each)
# and skip (parameter 1 has no gradient on the steps where t % skip == skip - 1)
OPTIMIZER_CASES = {
    "sgd_plain": dict(kind="sgd", opts=dict(lr=0.1)),
    "sgd_momentum": dict(kind="sgd", opts=dict(lr=0.05, momentum=0.9, dampening=0.3)),
    "sgd_nesterov_wd": dict(kind="sgd", opts=dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01)),
    "adam": dict(kind="adam", opts=dict(lr=0.01, betas=(0.9, 0.999), eps=1e-8)),
    "adam_amsgrad_wd": dict(kind="adam", opts=dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05,
                                                   amsgrad=True)),
    "adamw": dict(kind="adamw", opts=dict(lr=0.01, weight_decay=0.1), skip=3),
    "sgd_groups": dict(kind="sgd", opts=dict(lr=0.1, momentum=0.9), groups=[dict(lr=0.2), dict(weight_decay=0.1)]),
}


def _make_optimizer(case, params):
    kind, opts = case["kind"], dict(case["opts"])
    cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[kind]
    if "groups" in case:
        groups = [dict(params=[p], **extra) for p, extra in zip(params, case["groups"])]
        return cls(groups, foreach=False, **opts)
    return cls(params, foreach=False, **opts)


def _optimizer_meta(case):
    kind, opts = case["kind"], case["opts"]
    meta = {"optimizer": kind, "steps": str(STEPS), "skip": str(case.get("skip", 0))}
    for k, v in opts.items():
        if k == "betas":
            meta["beta1"], meta["beta2"] = _f(v[0]), _f(v[1])
        elif isinstance(v, bool):
            meta[k] = "true" if v else "false"
        else:
            meta[k] = _f(v)
    for gi, extra in enumerate(case.get("groups", [])):
        for k, v in extra.items():
            meta[f"group.{gi}.{k}"] = _f(v)
    meta["groups"] = str(len(case.get("groups", [])))
    return meta


def _run_optimizer(case, init, grads):
    params = [p.clone().requires_grad_(True) for p in init]
    opt = _make_optimizer(case, params)
    skip = case.get("skip", 0)
    out = {}
    for t in range(STEPS):
        for pi, p in enumerate(params):
            missing = pi == 1 and skip and t % skip == skip - 1
            p.grad = None if missing else grads[t][pi].clone()
        opt.step()
        for pi, p in enumerate(params):
            out[f"param.{t}.{pi}"] = p.detach().clone()
    return out


# Schedules run on SGD(momentum=0.9) with two groups (lr 0.1 and 0.01).
BASE_LRS = [0.1, 0.01]
SGD_MOMENTUM = 0.9


def _schedule_cases():
    S = torch.optim.lr_scheduler
    return {
        "step_lr": (dict(step_size="7", gamma="0.5"), lambda o: S.StepLR(o, step_size=7, gamma=0.5)),
        "multi_step_lr": (dict(milestones="5,12,20", gamma="0.3"),
                          lambda o: S.MultiStepLR(o, milestones=[5, 12, 20], gamma=0.3)),
        "cosine_lr": (dict(t_max="10", eta_min=_f(1e-3)), lambda o: S.CosineAnnealingLR(o, T_max=10, eta_min=1e-3)),
        "linear_lr": (dict(start_factor="0.25", end_factor="1.0", total_iters="8"),
                      lambda o: S.LinearLR(o, start_factor=0.25, end_factor=1.0, total_iters=8)),
        "warmup_cosine_lr": (
            dict(start_factor="0.1", end_factor="1.0", total_iters="5", t_max="25", eta_min=_f(1e-4), milestone="5"),
            lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=5),
                                         S.CosineAnnealingLR(o, T_max=25, eta_min=1e-4)], milestones=[5])),
        "one_cycle_lr": (dict(max_lr="1.0,0.1", total_steps="30"),
                         lambda o: S.OneCycleLR(o, max_lr=[1.0, 0.1], total_steps=30)),
        "one_cycle_three_phase_lr": (
            dict(max_lr="0.5", total_steps="30", pct_start="0.25", anneal="linear", div_factor="10.0",
                 final_div_factor="100.0", three_phase="true", base_momentum="0.8", max_momentum="0.9"),
            lambda o: S.OneCycleLR(o, max_lr=0.5, total_steps=30, pct_start=0.25, anneal_strategy="linear",
                                   div_factor=10.0, final_div_factor=100.0, three_phase=True,
                                   base_momentum=0.8, max_momentum=0.9)),
    }


def _run_schedule(build):
    params = [torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)]
    opt = torch.optim.SGD([dict(params=[params[0]], lr=BASE_LRS[0]), dict(params=[params[1]], lr=BASE_LRS[1])],
                          lr=BASE_LRS[0], momentum=SGD_MOMENTUM)
    sched = build(opt)
    lrs, moms = [sched.get_last_lr()], [[g["momentum"] for g in opt.param_groups]]
    for _ in range(SCHEDULE_STEPS):
        opt.step()  # no gradients: only keeps PyTorch's call-order check quiet
        with warnings.catch_warnings():
            # SequentialLR itself calls the deprecated step(0) at each milestone
            warnings.filterwarnings("ignore", message="The epoch parameter")
            sched.step()
        lrs.append(sched.get_last_lr())
        moms.append([g["momentum"] for g in opt.param_groups])
    return torch.tensor(lrs, dtype=torch.float64), torch.tensor(moms, dtype=torch.float64)


# name -> (norm_type, max_norm); "value" clips by value instead
CLIP_CASES = {
    "l2": (2.0, 1.0),
    "linf": (math.inf, 0.5),
    "l1_noclip": (1.0, 100.0),
    "l3": (3.0, 2.0),
}
CLIP_VALUE = 0.7


def _clip(save):
    g = torch.Generator().manual_seed(7)
    grads = [torch.randn(s, generator=g) * 3.0 for s in SHAPES]
    tensors = {f"grad.{p}": grads[p] for p in range(len(SHAPES))}
    meta = {"cases": ",".join(CLIP_CASES), "clip_value": _f(CLIP_VALUE)}
    for name, (norm_type, max_norm) in CLIP_CASES.items():
        params = [torch.zeros(s, requires_grad=True) for s in SHAPES]
        for p, gr in zip(params, grads):
            p.grad = gr.clone()
        total = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type)
        tensors[f"{name}.total_norm"] = total.detach().to(torch.float64).reshape(())
        for pi, p in enumerate(params):
            tensors[f"{name}.grad.{pi}"] = p.grad.clone()
        meta[f"{name}.norm_type"] = _f(norm_type)
        meta[f"{name}.max_norm"] = _f(max_norm)
    params = [torch.zeros(s, requires_grad=True) for s in SHAPES]
    for p, gr in zip(params, grads):
        p.grad = gr.clone()
    torch.nn.utils.clip_grad_value_(params, CLIP_VALUE)
    for pi, p in enumerate(params):
        tensors[f"value.grad.{pi}"] = p.grad.clone()
    save("optim_clip", tensors, meta)


def make(save):
    init, grads = _problem()
    problem = {f"param.init.{p}": init[p] for p in range(len(SHAPES))}
    for t in range(STEPS):
        for p in range(len(SHAPES)):
            problem[f"grad.{t}.{p}"] = grads[t][p]
    save("optim_problem", problem, {"steps": str(STEPS), "params": str(len(SHAPES))})

    for name, case in OPTIMIZER_CASES.items():
        save(f"optim_{name}", _run_optimizer(case, init, grads), _optimizer_meta(case))

    for name, (meta, build) in _schedule_cases().items():
        lrs, moms = _run_schedule(build)
        meta = dict(meta, steps=str(SCHEDULE_STEPS), base_lrs=",".join(_f(x) for x in BASE_LRS),
                    sgd_momentum=_f(SGD_MOMENTUM))
        save(f"sched_{name}", {"lr": lrs, "momentum": moms}, meta)

    _clip(save)
