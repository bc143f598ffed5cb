#!/usr/bin/env python3
"""Whole-run simulation of the bench's allocations, on per-item outcomes measured once.

`scripts/bench-decisions.sh` measures fixed vs sequential allocation for real, but one
pair of runs takes 18 minutes and a single run says little: which items come first
decides a lot. This script measures every (model, suite) once, on a larger sample, and
then plays both allocations against a time budget hundreds of times in seconds, each
time on a bootstrap draw of the items (every draw keeps an item's outcomes and costs
for all models together, so the pairing is real), at the measured pace and at slower
ones. It answers "what does a change to the allocation buy, and on how slow a machine
does the sequential advantage hold", before spending real runs on it.

    scripts/simulate-allocation.py collect DIR     # ~25 min for the three defaults
    scripts/simulate-allocation.py simulate DIR [--runs 40] [--budget 8m45s] [--pace 1,1.3,2]
    scripts/simulate-allocation.py check RUN.json  # this script's decisions == noa's

The decision rules (the betting confidence sequence, leader, settled/tied/open, the
further-items estimate) and the round-by-round growth are a transcription of
bench/src/decide.rs and bench/src/runner/scope.rs; `check` recomputes a real run's
decisions from its items and compares them with what noa wrote, so a drift between
the two shows. Costs: each item's share of its (model, suite) run's wall time (less
the model load), in proportion to its own end-to-end time; every round reloads each
model it runs. Not modelled: the batch running down at the end of a round (rounds
with few items per model are a little slower for real), and per-model budget shares.
Known gap: simulated sequential runs answer two to three times as many items as real
ones, most of them ARC-Easy's cheap log-likelihood items in late rounds, and settle a
Q&A pair now and then (0.4 per run at the measured pace) where the real runs measured
so far never grew Q&A; the predicted ratio matched the real one all the same (2.2 vs
2.0 and 2.0).
"""
import argparse
import collections
import json
import math
import os
import random
import subprocess
import sys
import time
import tomllib

ALPHA = 0.05
MARGIN = 0.05
GRID = 2001
BET_CAP = 0.75
MAX_ESTIMATE = 100_000
MIN_FIRST_ROUND = 2
try:
    import numpy as np
except ImportError:
    sys.exit("error: this script needs numpy (`pip install numpy`)")

GRID_M = np.linspace(0.0, 1.0, GRID)
with np.errstate(divide="ignore"):
    CAP_UP = BET_CAP / GRID_M
    CAP_DOWN = BET_CAP / (1.0 - GRID_M)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULTS = ["smollm2-135m-instruct", "gemma-3-270m", "qwen2.5-coder-0.5b-instruct"]
# Per suite, how many items `collect` measures (the default samples are 6-40).
COLLECT = {"arc-easy": 120, "humaneval": 36, "gsm8k": 30, "ifeval": 20, "agent": 31,
           "bfcl-simple": 16, "bfcl-multiple": 16, "bfcl-simple-grammar": 16}
COMPONENTS = {"general": ("instruction_following", "qa")}


class ConfidenceSequence:
    """decide.rs's hedged-capital betting sequence on differences in [-1, 1]."""

    def __init__(self):
        self.log_up = np.zeros(GRID)
        self.log_down = np.zeros(GRID)
        self.log_max = np.full(GRID, -np.inf)
        self.n = 0
        self.sum = 0.0
        self.sq_dev = 0.0
        self.d_sum = 0.0
        self.d_sq = 0.0

    def push(self, d):
        d = min(1.0, max(-1.0, d)) if math.isfinite(d) else 0.0
        x = (d + 1.0) / 2.0
        t = self.n + 1.0
        var = (0.25 + self.sq_dev) / t
        bet = math.sqrt(2.0 * math.log(2.0 / ALPHA) / (var * t * math.log(1.0 + t)))
        self.log_up += np.log1p(np.minimum(bet, CAP_UP) * (x - GRID_M))
        self.log_down += np.log1p(-np.minimum(bet, CAP_DOWN) * (x - GRID_M))
        hedged = math.log(0.5) + np.maximum(self.log_up, self.log_down)
        np.maximum(self.log_max, hedged, out=self.log_max)
        self.n += 1
        self.sum += x
        mean_now = (0.5 + self.sum) / (self.n + 1.0)
        self.sq_dev += (x - mean_now) ** 2
        self.d_sum += d
        self.d_sq += d * d

    def mean(self):
        return self.d_sum / self.n if self.n else 0.0

    def variance(self):
        if self.n < 2:
            return 0.0
        return max(0.0, (self.d_sq - self.d_sum * self.d_sum / self.n) / (self.n - 1.0))

    def interval(self):
        kept = np.nonzero(self.log_max < math.log(1.0 / ALPHA))[0]
        if len(kept) == 0:
            return self.mean(), self.mean()
        return 2.0 * GRID_M[kept[0]] - 1.0, 2.0 * GRID_M[kept[-1]] - 1.0


def further_items(cs):
    gap = abs(cs.mean())
    var = max(cs.variance(), 0.25 / (cs.n + 1.0), 1e-3)
    a = ALPHA / 2.0

    def half_width(n):
        v = n * var + 1.0
        return math.sqrt(v * math.log(v / (a * a))) / n

    def first_below(target):
        if target <= 0:
            return MAX_ESTIMATE
        lo = hi = 1
        while half_width(hi) >= target:
            if hi >= MAX_ESTIMATE:
                return MAX_ESTIMATE
            lo, hi = hi, min(hi * 2, MAX_ESTIMATE)
        while lo < hi:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if half_width(mid) < target else (mid + 1, hi)
        return hi

    return max(1, min(first_below(gap), first_below(MARGIN - gap)) - cs.n)


def pair_status(lo, hi):
    if lo > 0:
        return "ahead"
    if lo >= -MARGIN and hi <= MARGIN:
        return "tied"
    return "open"


def decide_all(models, records, use_cases):
    """decide.rs's decide_all: records are (use_case, suite, item, model, score) in
    the order they were recorded."""
    out = {}
    for uc in use_cases:
        comps = COMPONENTS.get(uc, (uc,))
        table = collections.OrderedDict()
        for pos, (ruc, suite, item, model, score) in enumerate(records):
            if ruc in comps and model in models:
                table.setdefault((suite, item), {})[model] = (min(1.0, max(0.0, score)), pos)
        present = [m for m in models if any(m in row for row in table.values())]
        if len(present) < 2:
            continue
        common = [row for row in table.values() if all(m in row for m in present)]
        rows = common or list(table.values())

        def mean_of(m):
            v = [row[m][0] for row in rows if m in row]
            return sum(v) / len(v) if v else 0.0

        ranked = sorted(present, key=lambda m: (-mean_of(m), m))
        leader = ranked[0]
        pairs, further = [], None
        for rival in ranked[1:]:
            diffs = sorted((max(row[leader][1], row[rival][1]), row[leader][0] - row[rival][0])
                           for row in table.values() if leader in row and rival in row)
            cs = ConfidenceSequence()
            for _, d in diffs:
                cs.push(d)
            lo, hi = cs.interval()
            status = pair_status(lo, hi)
            if status == "open":
                need = further_items(cs)
                further = need if further is None else max(further, need)
            pairs.append({"rival": rival, "n": cs.n, "mean": cs.mean(), "ci_low": lo,
                          "ci_high": hi, "status": status})
        if all(p["status"] == "tied" for p in pairs):
            status = "tied"
        elif all(p["status"] != "open" for p in pairs):
            status = "settled"
        else:
            status = "open"
        out[uc] = {"use_case": uc, "status": status, "leader": leader, "pairs": pairs,
                   "items": len(common), "further_items": further}
    return out


def settled_pairs(decisions):
    return sum(p["status"] != "open" for uc, d in decisions.items() if uc != "general"
               for p in d["pairs"])


# ---- suites -------------------------------------------------------------------------

def suite_info():
    """Per suite id: use case, default sample, item weight (as runner::item_weight)."""
    info = {}
    base = os.path.join(ROOT, "evalsets")
    for name in sorted(os.listdir(base)):
        path = os.path.join(base, name, "suite.toml")
        if not os.path.exists(path):
            continue
        with open(path, "rb") as f:
            t = tomllib.load(f)
        g = t.get("generation", {})
        requests = g.get("max_turns", 1) if t["kind"] == "agent" else 1
        info[t["id"]] = {"use_case": t["use_case"], "limit": t.get("sampling", {}).get("limit"),
                         "weight": g.get("max_tokens", 256) * max(requests, 1) + 64.0}
    return info


def first_round(limit):
    return min(limit, max(MIN_FIRST_ROUND, -(-limit // 3)))


# ---- collect ------------------------------------------------------------------------

def collect(args):
    noa = args.noa
    if not noa:
        target = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/noa/target"))
        subprocess.run(["cargo", "build", "--release", "-q", "--bin", "noa"], cwd=ROOT, check=True)
        noa = os.path.join(target, "release", "noa")
    home = os.environ.setdefault("NOA_HOME", os.path.expanduser("~/.cache/noa/decisions-home"))
    subprocess.run([noa, "-q", "models", "pull", "--defaults"], check=True)
    subprocess.run([noa, "-q", "evalsets", "pull"], check=False, capture_output=True)
    os.makedirs(args.dir, exist_ok=True)
    items, walls = [], []
    for model in args.models.split(","):
        for suite, n in COLLECT.items():
            t0 = time.monotonic()
            out = subprocess.run(
                [noa, "-q", "bench", "--models", model, "--suites", suite, "--limit", str(n),
                 "--allocation", "fixed", "--no-cache", "--no-registry", "--json"],
                check=True, capture_output=True, text=True).stdout
            wall = time.monotonic() - t0
            run_id = json.loads(out)["run_id"]
            run = os.path.join(home, "runs", run_id)
            with open(os.path.join(run, "manifest.json")) as f:
                load_ms = (json.load(f)["models"][0].get("load_ms") or 0)
            with open(os.path.join(run, "items.jsonl")) as f:
                items += [json.loads(line) for line in f]
            walls.append({"model": model, "suite": suite, "wall_s": wall, "load_ms": load_ms})
            print(f"{model} {suite}: {n} items in {wall:.1f} s", file=sys.stderr)
    with open(os.path.join(args.dir, "items.jsonl"), "w") as f:
        for r in items:
            f.write(json.dumps({k: r[k] for k in ("model_id", "suite", "use_case", "item_id",
                                                   "score", "timings")}) + "\n")
    with open(os.path.join(args.dir, "walls.json"), "w") as f:
        json.dump(walls, f, indent=1)


# ---- simulate -----------------------------------------------------------------------

def load_measured(d):
    """(model, suite) -> {item: (score, seconds)}; model -> load seconds."""
    with open(os.path.join(d, "walls.json")) as f:
        walls = {(w["model"], w["suite"]): w for w in json.load(f)}
    recs = collections.defaultdict(list)
    with open(os.path.join(d, "items.jsonl")) as f:
        for line in f:
            r = json.loads(line)
            recs[(r["model_id"], r["suite"])].append(r)
    data, load_s = {}, {}
    for key, w in walls.items():
        load_s[key[0]] = w["load_ms"] / 1000.0
        # The run's wall less start-up (a second) and load, split by end-to-end time.
        busy = max(w["wall_s"] - 1.0 - w["load_ms"] / 1000.0, 0.1 * w["wall_s"])
        e2e = sum(r["timings"]["e2e_ms"] for r in recs[key]) or 1.0
        data[key] = {r["item_id"]: (min(1.0, max(0.0, r["score"])),
                                    busy * r["timings"]["e2e_ms"] / e2e) for r in recs[key]}
    return data, load_s


class Sim:
    """One simulated bench run over bootstrap pools: the items each model answered."""

    def __init__(self, pools, models, suites, info, budget, load_s, pace):
        self.pools, self.models, self.suites, self.info = pools, models, suites, info
        self.budget, self.load_s, self.pace = budget, load_s, pace
        self.t = 0.0
        self.done = {(m, s): 0 for m in models for s in suites}
        self.records = []
        self.cost = {(m, s): [0.0, 0] for m in models for s in suites}

    def run_model(self, m, want, until=None, load=True):
        """Answer, in suite order, model m's items up to `want[suite]`; with `load`,
        the model is loaded first (a round's reload) when there is something to answer."""
        todo = [(s, i) for s in self.suites
                for i in range(self.done[(m, s)], min(want.get(s, 0), len(self.pools[s])))]
        if not todo:
            return
        if load:
            self.t += (self.load_s.get(m, 1.0) + 0.5) * self.pace
        end = self.budget if until is None else min(until, self.budget)
        for s, i in todo:
            seconds = self.pools[s][i][m][1] * self.pace
            if self.t >= end or self.t + seconds > self.budget:
                break
            self.t += seconds
            self.done[(m, s)] = i + 1
            self.cost[(m, s)][0] += seconds
            self.cost[(m, s)][1] += 1
            self.records.append((self.info[s]["use_case"], s, i, m, self.pools[s][i][m][0]))

    def decisions(self):
        ucs = sorted({self.info[s]["use_case"] for s in self.suites}) + ["general"]
        return decide_all(self.models, self.records, ucs)


def simulate_fixed(sim):
    """Every suite's default sample, model by model and suite by suite, each pair with
    its weighted share of the time left (runner::budget_share), cut a quarter past it."""
    work = [(m, s) for m in sim.models for s in sim.suites]
    for k, (m, s) in enumerate(work):
        left = sim.budget - sim.t
        if left <= 0:
            break
        w = lambda s2: sim.info[s2]["weight"] * sim.info[s2]["limit"]
        share = left * w(s) / sum(w(s2) for _, s2 in work[k:])
        # One load per model, before its first suite.
        sim.run_model(m, {s: sim.info[s]["limit"]}, until=sim.t + 1.25 * share + 2.0,
                      load=s == sim.suites[0])


def simulate_sequential(sim):
    first = {s: first_round(sim.info[s]["limit"]) for s in sim.suites}
    scope = {(m, s): first[s] for m in sim.models for s in sim.suites}
    while sim.t < sim.budget:
        answered = len(sim.records)
        for m in sim.models:
            sim.run_model(m, {s: scope[(m, s)] for s in sim.suites})
        if sim.t >= sim.budget:
            return
        grow(sim, sim.decisions(), scope, first)
        left = sum(max(0, min(scope[k], len(sim.pools[k[1]])) - sim.done[k]) for k in scope)
        if left == 0 or len(sim.records) == answered:
            return


def grow(sim, decisions, scope, first):
    """scope.rs's Scope::grow."""
    left = sim.budget - sim.t
    cands = []
    for uc, d in decisions.items():
        if d["status"] != "open" or uc in COMPONENTS:
            continue
        involved = [d["leader"]] + [p["rival"] for p in d["pairs"] if p["status"] == "open"]
        in_uc = [s for s in sim.suites if sim.info[s]["use_case"] == uc]
        if len(involved) < 2:
            continue
        cands.append((estimate(sim, involved, in_uc, first, d["further_items"]), d, involved, in_uc))
    cands.sort(key=lambda c: c[0])
    planned, keep = 0.0, 0
    for c in cands:
        planned += c[0]
        if planned > left:
            break
        keep += 1
    partial = None
    if keep == 0 and cands:
        per = estimate(sim, cands[0][2], cands[0][3], first, 1)
        partial = int(left / per) if per > 0 else 1
        keep = 1 if partial > 0 else 0
    for _, d, involved, in_uc in cands[:keep]:
        if partial is not None:
            extend(sim, scope, in_uc, involved, first, partial, False)
        else:
            extend(sim, scope, in_uc, involved, first, d["further_items"], True)


def estimate(sim, involved, in_uc, first, further):
    total = sum(first[s] for s in in_uc) or 1
    seconds = 0.0
    for s in in_uc:
        for m in involved:
            spent, ran = sim.cost[(m, s)]
            if ran:
                seconds += further * first[s] / total * spent / ran
    return seconds


def extend(sim, scope, in_uc, involved, first, further, at_least_half):
    total = sum(first[s] for s in in_uc) or 1
    for s in in_uc:
        current = max(scope[(m, s)] for m in involved)
        wanted = -(-further * first[s] // total)
        least = max(first[s] // 2, 1) if at_least_half else 0
        target = min(current + max(min(wanted, 4 * max(current, 1)), least), len(sim.pools[s]))
        for m in involved:
            scope[(m, s)] = max(scope[(m, s)], target)


def parse_duration(text):
    total, num = 0.0, ""
    for ch in text:
        if ch.isdigit() or ch == ".":
            num += ch
        else:
            total += float(num) * {"h": 3600, "m": 60, "s": 1}[ch]
            num = ""
    return total + (float(num) if num else 0.0)


def simulate(args):
    info = suite_info()
    data, load_s = load_measured(args.dir)
    models = [m for m in DEFAULTS if any(k[0] == m for k in data)]
    suites = [s for s in info if all((m, s) in data for m in models)]
    budget = parse_duration(args.budget)
    rng = random.Random(args.seed)
    paces = [float(p) for p in args.pace.split(",")]
    print(f"{len(models)} models, {len(suites)} suites, budget {budget:.0f} s, {args.runs} "
          f"bootstrap runs per pace; leader-vs-rival comparisons settled, mean and range")
    for pace in paces:
        tally = {"fixed": [], "sequential": []}
        for _ in range(args.runs):
            pools = {}
            for s in suites:
                ids = sorted(set.intersection(*(set(data[(m, s)]) for m in models)))
                rows = [{m: data[(m, s)][i] for m in models} for i in ids]
                pools[s] = [rows[rng.randrange(len(rows))] for _ in range(len(rows) * 4)]
            for name, play in (("fixed", simulate_fixed), ("sequential", simulate_sequential)):
                sim = Sim(pools, models, suites, info, budget, load_s, pace)
                play(sim)
                tally[name].append((settled_pairs(sim.decisions()), len(sim.records)))
        mean = lambda xs: sum(xs) / len(xs)
        f = [x[0] for x in tally["fixed"]]
        s = [x[0] for x in tally["sequential"]]
        wins = sum(b >= 2 * a for a, b in zip(f, s))
        print(f"pace x{pace:g}: fixed {mean(f):.2f} ({min(f)}-{max(f)}, {mean([x[1] for x in tally['fixed']]):.0f} items), "
              f"sequential {mean(s):.2f} ({min(s)}-{max(s)}, {mean([x[1] for x in tally['sequential']]):.0f} items): "
              f"ratio of means {mean(s) / mean(f):.2f}; sequential >= 2x fixed in {wins}/{args.runs} runs")


# ---- check --------------------------------------------------------------------------

def check(args):
    with open(args.run_json) as f:
        doc = json.load(f)
    home = os.environ.get("NOA_HOME", os.path.expanduser("~/.cache/noa/decisions-home"))
    with open(os.path.join(home, "runs", doc["run_id"], "items.jsonl")) as f:
        recs = [json.loads(line) for line in f]
    records = [(r["use_case"], r["suite"], r["item_id"], r["model_id"], r["score"]) for r in recs]
    models = sorted({r[3] for r in records})
    ours = decide_all(models, records, [d["use_case"] for d in doc["decisions"]])
    bad = 0
    for theirs in doc["decisions"]:
        mine = ours.get(theirs["use_case"])
        same = mine is not None and mine["status"] == theirs["status"] and \
            mine["leader"] == theirs["leader"] and \
            mine["further_items"] == theirs.get("further_items") and all(
                a["rival"] == b["rival"] and a["n"] == b["n"] and a["status"] == b["status"]
                and abs(a["ci_low"] - b["ci_low"]) < 2e-3 and abs(a["ci_high"] - b["ci_high"]) < 2e-3
                for a, b in zip(mine["pairs"], theirs["pairs"]))
        bad += not same
        print(f"{theirs['use_case']:<22} {'same' if same else 'DIFFERENT'}: noa {theirs['status']}"
              f" {[(p['rival'], round(p['ci_low'], 3), round(p['ci_high'], 3)) for p in theirs['pairs']]}"
              + ("" if same else f"; here {mine}"))
    sys.exit(1 if bad else 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("collect", help="measure every (model, suite) on a larger sample")
    c.add_argument("dir")
    c.add_argument("--models", default=",".join(DEFAULTS))
    c.add_argument("--noa", help="a built noa binary (default: cargo build)")
    s = sub.add_parser("simulate", help="bootstrap whole runs of both allocations")
    s.add_argument("dir")
    s.add_argument("--runs", type=int, default=40)
    s.add_argument("--budget", default="8m45s")
    s.add_argument("--pace", default="1,1.3,2", help="item-time multipliers (slower machines)")
    s.add_argument("--seed", type=int, default=1)
    k = sub.add_parser("check", help="recompute a run's decisions (noa bench --json output)")
    k.add_argument("run_json")
    args = ap.parse_args()
    {"collect": collect, "simulate": simulate, "check": check}[args.cmd](args)


if __name__ == "__main__":
    main()
