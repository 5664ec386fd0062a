"""report_fake.py — inputs for test_report.sh that no short run produces.

  report_fake.py baselines RUN_DIR   add the "baselines" key (the shape lvt train will write) to
                                     RUN_DIR/training_history.json
  report_fake.py sweep DIR MODE      a sweep directory as launch/sweep_rollout_h.sh leaves it:
                                     DIR/sweep.csv and DIR/h<H>_l<λ>/config.json (train.seed);
                                     MODE "config": seeds only in the run configs (the script's
                                     format today); MODE "column": a `seed` column, two seeds
"""
import json
import os
import random
import sys

HEADER = ("rollout_h,lambda_roll,val_cos,margin,best_val_loss,train_seconds,samples_per_s,val_cos_p1,"
          "val_margin_p1,ood_cos_p1,ood_margin_p1,val_r1,val_rollout_cos,checks_passed,all_pass")


def baselines(run):
    p = os.path.join(run, "training_history.json")
    h = json.load(open(p))
    h["baselines"] = {"copy_last": {"cos": 0.33312, "margin": -0.01153},
                      "mean_context": {"cos": 0.39518, "margin": 0.02071}}
    json.dump(h, open(p, "w"), indent=1)


def sweep(d, mode):
    rng = random.Random(7 if mode == "config" else 8)
    os.makedirs(d, exist_ok=True)
    seeds = [3] if mode == "config" else [1, 2]
    rows = []
    for seed in seeds:
        for h in (1, 2, 3, 4, 5):
            for lam in ("0.05", "0.1"):
                v = [h, lam] + ["%.5f" % rng.uniform(-0.2, 0.6) for _ in range(11)] + [rng.randint(0, 23), "false"]
                rows.append(([seed] if mode == "column" else []) + v)
                run = os.path.join(d, "h%d_l%s" % (h, lam))
                os.makedirs(run, exist_ok=True)
                json.dump({"train": {"seed": seed}}, open(os.path.join(run, "config.json"), "w"))
    with open(os.path.join(d, "sweep.csv"), "w") as f:
        f.write(("seed," if mode == "column" else "") + HEADER + "\n")
        for r in rows:
            f.write(",".join(str(x) for x in r) + "\n")


if __name__ == "__main__":
    if sys.argv[1] == "baselines":
        baselines(sys.argv[2])
    else:
        sweep(sys.argv[2], sys.argv[3])
