"""test_optim_ref.py — PyTorch references for tests/ckpt/test_optim.c.

  test_optim_ref.py DIR N STEPS                      AdamW + clip_grad_norm_ (p0.bin, g.bin -> ref_*.bin)
  test_optim_ref.py DIR plateau FACTOR PATIENCE COOLDOWN MIN_LR   (losses.bin -> ref_plateau.bin)
  test_optim_ref.py DIR cosine LR MIN_LR T                        (-> ref_cosine.bin)
"""
import math
import os
import sys

import numpy as np
import torch


def adamw(d, n, steps):
    p0 = np.fromfile(os.path.join(d, "p0.bin"), dtype=np.float32)
    g = np.fromfile(os.path.join(d, "g.bin"), dtype=np.float32).reshape(steps, n)
    # Three parameter tensors of uneven sizes: clip_grad_norm_ is global over all of them.
    cuts = [0, n // 3, n // 3 + n // 5, n]
    params = [torch.nn.Parameter(torch.from_numpy(p0[a:b].copy())) for a, b in zip(cuts, cuts[1:])]
    opt = torch.optim.AdamW(params, lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, foreach=False)
    norms = []
    for s in range(steps):
        for t, (a, b) in zip(params, zip(cuts, cuts[1:])):
            t.grad = torch.from_numpy(g[s, a:b].copy())
        norms.append(float(torch.nn.utils.clip_grad_norm_(params, 1.0)))
        opt.step()
    cat = lambda xs: torch.cat([x.detach().reshape(-1) for x in xs]).numpy().astype(np.float32)
    cat(params).tofile(os.path.join(d, "ref_p.bin"))
    cat([opt.state[t]["exp_avg"] for t in params]).tofile(os.path.join(d, "ref_m.bin"))
    cat([opt.state[t]["exp_avg_sq"] for t in params]).tofile(os.path.join(d, "ref_v.bin"))
    np.array(norms, dtype=np.float64).tofile(os.path.join(d, "ref_norms.bin"))


def plateau(d, factor, patience, cooldown, min_lr):
    losses = np.fromfile(os.path.join(d, "losses.bin"), dtype=np.float64)
    p = torch.nn.Parameter(torch.zeros(4))
    opt = torch.optim.AdamW([p], lr=5e-4)
    sch = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, mode="min", factor=factor, patience=patience, threshold=1e-4, threshold_mode="rel",
        cooldown=cooldown, min_lr=min_lr)
    lrs = []
    for x in losses:
        sch.step(float(x))
        lrs.append(opt.param_groups[0]["lr"])
    np.array(lrs, dtype=np.float64).tofile(os.path.join(d, "ref_plateau.bin"))


def cosine(d, lr, min_lr, T):
    p = torch.nn.Parameter(torch.zeros(4))
    opt = torch.optim.SGD([p], lr=lr)
    sch = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=T, eta_min=min_lr)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(T):
        opt.step()
        sch.step()
        lrs.append(opt.param_groups[0]["lr"])
    np.array(lrs, dtype=np.float64).tofile(os.path.join(d, "ref_cosine.bin"))


def main():
    torch.set_num_threads(1)
    d = sys.argv[1]
    if sys.argv[2] == "plateau":
        plateau(d, float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]))
    elif sys.argv[2] == "cosine":
        cosine(d, float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]))
    else:
        adamw(d, int(sys.argv[2]), int(sys.argv[3]))


if __name__ == "__main__":
    main()
