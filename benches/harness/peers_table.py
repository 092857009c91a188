"""Prints the h5oxide-vs-peers table from one run of the criterion benches in benches/peers.

Called by scripts/bench after `cargo bench --manifest-path benches/peers/Cargo.toml`:

  python peers_table.py --criterion target/bench/criterion --status STATUS.jsonl --out DIR

For every workload group, each peer's time is criterion's median point estimate
(`<group>/<function>/new/estimates.json`), divided by the group's throughput (elements per
iteration: W7 rows read, W8 groups walked) where there is one; ratio = peer ÷ h5oxide, so
**above 1 means h5oxide is faster**. Only the functions the run's status file (written by the
bench, `PEERS_STATUS`) marks `ok` are read, so stale criterion results of a peer that was
skipped this time never show; skipped peers are listed with their reason.
"""
import argparse
import json
import os
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("--criterion", required=True)
ap.add_argument("--status", required=True)
ap.add_argument("--out", default="target/bench-results")
ap.add_argument("--wall", type=float, default=0.0, help="wall time of the bench run, seconds")
args = ap.parse_args()

CMIB = os.environ.get("BENCH_CONTIG_MIB", "256")
ZMIB = os.environ.get("BENCH_COMPRESSED_MIB", "64")
NG = os.environ.get("BENCH_GROUPS", "10000")
LABELS = {
    "W2": f"W2 read {CMIB} MiB f64 contiguous",
    "W5": f"W5 read {ZMIB} MiB f32 gzip4+shuffle",
    "W7_chunked": "W7 random row, chunked (per read)",
    "W7_gzip": "W7 random row, gzip chunked (per read)",
    "W8_earliest": f"W8 walk {NG} groups + read attrs (per group), earliest",
    "W8_latest": f"W8 walk {NG} groups + read attrs (per group), latest",
}

status = []
with open(args.status) as f:
    for line in f:
        if line.strip():
            status.append(json.loads(line))


def per_iter(group, function):
    """Operations per iteration (the group's criterion throughput; 1 without one)."""
    try:
        with open(os.path.join(args.criterion, group, function, "new", "benchmark.json")) as f:
            tp = json.load(f).get("throughput") or {}
    except (OSError, ValueError):
        return 1
    return tp.get("Elements") or tp.get("Bytes") or 1


def estimate(group, function):
    """Median seconds per operation, or None."""
    d = os.path.join(args.criterion, group, function, "new")
    try:
        with open(os.path.join(d, "estimates.json")) as f:
            ns = json.load(f)["median"]["point_estimate"]
    except (OSError, KeyError, ValueError):
        return None
    return ns * 1e-9 / per_iter(group, function)


def fmt(s):
    if s is None:
        return "—"
    if s < 1e-3:
        return f"{s * 1e6:.1f} µs"
    if s < 1:
        return f"{s * 1e3:.1f} ms"
    return f"{s:.2f} s"


groups = []
for st in status:
    if st["group"] not in groups:
        groups.append(st["group"])

lines = ["| workload | peer | peer time | h5oxide time | ratio (peer ÷ h5oxide) |",
         "| --- | --- | ---: | ---: | ---: |"]
notes = []
results = []
for g in groups:
    label = LABELS.get(g, g)
    rows = [s for s in status if s["group"] == g]
    ox = next((s for s in rows if s["function"] == "h5oxide"), None)
    t_ox = estimate(g, "h5oxide") if ox and ox["status"] == "ok" else None
    for s in rows:
        fn = s["function"]
        if fn == "h5oxide":
            continue
        if s["status"] == "slow":
            # too slow for criterion's 10 samples: the one untimed check run, marked ¹
            t = s["once_s"] / per_iter(g, "h5oxide")
            ratio = f"**{t / t_ox:.2f}×** ¹" if t_ox else "—"
            lines.append(f"| {label} | {fn} | {fmt(t)} ¹ | {fmt(t_ox)} | {ratio} |")
            notes.append(f"{g}/{fn}: ¹ {s['detail']}; its time is that single run")
            results.append({"group": g, "function": fn, "peer_s": t, "h5oxide_s": t_ox,
                            "ratio": (t / t_ox) if t_ox else None, "single_run": True})
            continue
        if s["status"] != "ok":
            what = {"unsupported": "not supported", "failed": "failed", "differs": "wrong values"}
            lines.append(f"| {label} | {fn} | {what.get(s['status'], s['status'])} | {fmt(t_ox)} | — |")
            notes.append(f"{g}/{fn}: {s['status']}: {s['detail']}")
            continue
        t = estimate(g, fn)
        ratio = f"**{t / t_ox:.2f}×**" if t and t_ox else "—"
        lines.append(f"| {label} | {fn} | {fmt(t)} | {fmt(t_ox)} | {ratio} |")
        results.append({"group": g, "function": fn, "peer_s": t, "h5oxide_s": t_ox,
                        "ratio": (t / t_ox) if t and t_ox else None})

note = ("criterion median point estimates, one run; times per read (W7) and per group (W8); "
        "ratio = peer ÷ h5oxide (above 1: h5oxide faster).")
if args.wall:
    note += f" Bench wall time {args.wall / 60:.1f} min."
table = "\n".join(lines) + "\n\n" + note + "\n"
if notes:
    table += "\nNot timed by criterion:\n" + "\n".join(f"* {n}" for n in notes) + "\n"
os.makedirs(args.out, exist_ok=True)
stamp = time.strftime("%Y%m%dT%H%M%S")
with open(os.path.join(args.out, f"{stamp}-peers.md"), "w") as f:
    f.write(table)
with open(os.path.join(args.out, f"{stamp}-peers.jsonl"), "w") as f:
    for r in results:
        f.write(json.dumps(r) + "\n")
print(table)
print(f"results: {args.out}/{stamp}-peers.md and -peers.jsonl", file=sys.stderr)
