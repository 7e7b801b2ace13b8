#!/usr/bin/env python3
"""bench/run.py — the benchmark driver behind `make bench` and `make bench-quick` (stdlib only).

Runs ringsched (build/bench/rs_bench against daemons this script starts on private sockets) and the
in-process peers (build/bench/peers/*) on the same graphs (bench/graph.h), and the seed workloads
(build/workloads/* on ringsched, build/bench/peers/seed-* on every peer: the same tasks, kernels and
reference), interleaved round by round so drift hits every runtime alike, then the METG sweep, the one-CPU
and idle measurements, hosted kernels beside built-in ones and the four-process makespan (hosted tasks of 4
processes sharing the daemon's CPUs vs 4 processes each with its own OpenMP / oneTBB pool), and writes bench/results/latest.{json,csv,md} and efficiency.png
(bench/results/README.md describes them).

    python3 bench/run.py [--quick] [--runs R] [--build build] [--out bench/results]
"""
import argparse
import csv
import datetime
import json
import math
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# ---- what is measured ----

# (label, rs_bench/peer arguments) for full and quick
def patterns(quick):
    q = quick
    return [
        ("independent", ["--pattern", "independent", "--n", str(20000 if q else 200000)]),
        ("chain", ["--pattern", "chain", "--n", str(10000 if q else 100000)]),
        ("stencil_w8", ["--pattern", "stencil", "--width", "8", "--steps", str(200 if q else 2000)]),
        ("stencil_w64", ["--pattern", "stencil", "--width", "64", "--steps", str(200 if q else 2000)]),
        ("fanout", ["--pattern", "fanout", "--width", "1000", "--steps", str(10 if q else 100)]),
        ("tree", ["--pattern", "tree", "--width", str(12 if q else 16)]),
        ("random", ["--pattern", "random", "--n", str(10000 if q else 100000)]),
    ]

# The seed workloads (client/workloads/): ringsched runs build/workloads/NAME --verify ARGS, every peer its
# build/bench/peers/seed-PEER NAME ARGS (bench/peers/seeds.h: the same graph, inputs, kernels and reference).
# ARGS are the workload's own flags: none (the default sizes: 1 000, 1 000 and 16 384 tasks) in full runs,
# a quarter of the tasks in quick runs (the same for ringsched and the peers).
SEEDS = ["bgemm", "alternating_matmul_add", "paged_attention"]


def seed_args(quick):
    if quick:
        return {"bgemm": ["--groups", "64"], "alternating_matmul_add": ["--batch", "128"],
                "paged_attention": ["--batch", "16"]}
    return {"bgemm": [], "alternating_matmul_add": [], "paged_attention": []}


# ringsched configurations: name -> config groups (None = no file, built-in defaults)
RS_CONFIGS = [
    ("default", None),
    ("sched1-folded", {"threads": 'schedulers = 1; wiring = "shared";'}),
    ("sched2-folded", {"threads": 'schedulers = 2; wiring = "shared";'}),
    ("sched2-dedicated", {"threads": 'schedulers = 2; wiring = "dedicated";'}),
    ("inline-wiring", {"mechanisms": "deferred_wiring = false;"}),
    ("payload-at-dispatch", {"mechanisms": "prebuilt_payload = false;"}),
    ("fanout-readiness", {"mechanisms": "wireless_readiness = false;"}),  # locked fan-out lists + refcounts
    # profiling levels (default is level 0): counters, and every stage of every task into the trace rings
    ("profiling-1", {"profiling": "level = 1;"}),
    ("profiling-2", {"profiling": "level = 2;"}),
]
PROFILING = [("level 1 (counters)", "profiling-1"), ("level 2 (per-task trace)", "profiling-2")]
MECHANISMS = [  # (label, off config, on config, published claim)
    ("deferred wiring", "inline-wiring", "default", "submit cost -21..-26 %"),
    ("prebuilt payload", "payload-at-dispatch", "default", "(no number given)"),
    ("wireless readiness", "fanout-readiness", "default", "time -16..-48 %"),
    ("dedicated wiring thread", "sched2-folded", "sched2-dedicated", "scheduler time -20 %"),
]
MECH_OFF = [m[1] for m in MECHANISMS if m[2] == "default"]  # these also run the seed workloads
# METG sweep: (label, daemon config, rs_bench extra arguments); hosted = the default daemon, kernels hosted
METG_RS = [("default", "default", []), ("sched2-folded", "sched2-folded", []),
           ("sched1-folded", "sched1-folded", []), ("hosted", "default", ["--hosted"])]

# Client-hosted kernels (rs_kernel_local): rs_bench --hosted and build/workloads/NAME --hosted register the
# daemon's own kernel bodies (kernels/builtin.c) as hosted kernels, so hosted vs built-in measures only where a
# task runs. They run in the default daemon's group, each beside its built-in twin, as config "hosted".
HOSTED = "hosted"
HOSTED_TARGET = 1.5  # the target: hosted within 1.5x of built-in per task

# The four-process makespan: MULTI_PROCS processes start at once, each running the same job; makespan = the
# first start to the last exit. ringsched's processes share the daemon's CPUs (hosted: their own functions
# under core leases); each peer process starts its own pool of one worker per CPU.
MULTI_PROCS = 4
MULTI_PEERS = [("omp-gomp", "default"), ("omp-llvm", "default"), ("tbb", "default")]

# peers: (runtime label, config label, binary, extra args, extra env; None value = unset)
PEERS = [
    ("omp-gomp", "default", "omp-gomp", [], {}),
    ("omp-llvm", "default", "omp-llvm", [], {"OMP_WAIT_POLICY": None}),
    ("omp-llvm", "active", "omp-llvm", [], {"OMP_WAIT_POLICY": "active"}),
    ("tbb", "default", "tbb", [], {}),
    ("tbb", "lightweight", "tbb", ["--lightweight"], {}),
    ("starpu", "lws", "starpu", [], {"STARPU_SCHED": "lws"}),
    ("starpu", "eager", "starpu", [], {"STARPU_SCHED": "eager"}),
    ("starpu", "ws", "starpu", [], {"STARPU_SCHED": "ws"}),
    ("starpu", "dmda", "starpu", [], {"STARPU_SCHED": "dmda"}),
]

METG_GRAINS_US = [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500]
METG_GRAINS_QUICK = [1, 10, 100]

# ---- plumbing ----

LOG = []


def say(msg=""):
    print(msg, flush=True)


def note(msg):
    LOG.append(msg)
    say("note: " + msg)


def run(cmd, env=None, timeout=60):
    """Runs cmd; returns (rc, stdout, stderr). rc None = killed after the timeout."""
    try:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
                             start_new_session=True)
    except OSError as e:
        return 127, "", str(e)
    try:
        out, err = p.communicate(timeout=timeout)
        return p.returncode, out, err
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
        out, err = p.communicate()
        return None, out, (err or "") + "\n[killed after %ss timeout]" % timeout


def last_json(out):
    for line in reversed(out.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                pass
    return None


def short_err(rc, err):
    lines = [l for l in (err or "").strip().splitlines() if l.strip()]
    tail = lines[-1] if lines else ""
    if rc is None:
        return "timeout: " + tail
    return ("exit %s: %s" % (rc, tail)).strip()


def config_text(groups, spin_us=None):
    """One libconfig file: every group once; log_level warn in daemon."""
    g = dict(groups or {})
    g["daemon"] = 'log_level = "warn";' + (" " + g["daemon"] if "daemon" in g else "")
    if spin_us is not None:
        g["idle"] = "spin_us = %d;" % spin_us
    return "".join("%s = { %s };\n" % (k, v) for k, v in g.items())


class Daemon:
    """A ringschedd on a private socket; start() returns None or an error string."""

    def __init__(self, build, name, groups, prefix=None):
        self.build, self.name, self.groups, self.prefix = build, name, groups, prefix or []
        self.dir = tempfile.mkdtemp(prefix="rsbench-")
        self.sock = os.path.join(self.dir, "s.sock")
        self.cfg = None
        self.proc = None
        self.log = None
        if groups is not None:
            self.cfg = os.path.join(self.dir, "ringschedd.conf")
            with open(self.cfg, "w") as f:
                f.write(config_text(groups))

    def daemon_cmd(self):
        # its own socket and config (or the built-in defaults): never /etc/ringsched or the system socket
        cmd = self.prefix + [os.path.join(self.build, "ringschedd"), "--socket", self.sock]
        if self.cfg:
            cmd += ["--config", self.cfg]
        else:
            cmd += ["--no-config", "--log-level", "warn"]
        return cmd

    def check(self):
        if not self.cfg:
            return None
        rc, out, err = run([os.path.join(self.build, "ringschedd"), "--check-config", "--config", self.cfg,
                            "--socket", self.sock], timeout=20)
        if rc != 0:
            return short_err(rc, err or out).replace(self.cfg, "<%s config>" % self.name)
        return None

    def env(self):
        e = dict(os.environ)
        e["RINGSCHED_SOCKET"] = self.sock
        return e

    def start(self):
        self.log = open(os.path.join(self.dir, "daemon.log"), "w")
        self.proc = subprocess.Popen(self.daemon_cmd(), stdout=self.log, stderr=subprocess.STDOUT,
                                     env=self.env(), start_new_session=True)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return "daemon exited with %s: %s" % (self.proc.returncode, self.log_tail())
            if os.path.exists(self.sock):
                for kind in (socket.SOCK_SEQPACKET, socket.SOCK_STREAM):  # the daemon's socket type
                    s = socket.socket(socket.AF_UNIX, kind)
                    try:
                        s.connect(self.sock)
                        return None
                    except OSError:
                        pass
                    finally:
                        s.close()
            time.sleep(0.02)
        return "socket did not accept within 10 s"

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self):
        try:
            self.log.flush()
            with open(os.path.join(self.dir, "daemon.log")) as f:
                lines = [l.strip() for l in f if l.strip()]
            return lines[-1] if lines else ""
        except OSError:
            return ""

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None
        if self.log:
            self.log.close()
            self.log = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Results:
    def __init__(self):
        self.cells = {}  # (runtime, config, pattern) -> dict(vals, errors, extra lists)
        self.order = []
        self.skipped = {}  # (runtime, config) -> reason
        self.metg = {}  # (runtime, config) -> dict(metg_us, points)

    def cell(self, rt, cfg, pat):
        k = (rt, cfg, pat)
        if k not in self.cells:
            self.cells[k] = {"vals": [], "errors": [], "extra": {}, "value": []}
            self.order.append(k)
        return self.cells[k]

    def add(self, rt, cfg, pat, j=None, error=None, value=None):
        c = self.cell(rt, cfg, pat)
        if error:
            c["errors"].append(error)
            return
        if value is not None:
            c["value"].append(value)
        if j is not None:
            if j.get("ns_per_task") is not None and value is None:
                c["vals"].append(float(j["ns_per_task"]))
            for f in ("p90_ns", "min_ns", "threads", "daemon_calls", "client_calls", "tasks", "run_mean", "run_peak"):
                if f in j:
                    c["extra"].setdefault(f, []).append(j[f])

    def median(self, rt, cfg, pat):
        c = self.cells.get((rt, cfg, pat))
        if not c:
            return None
        v = c["vals"] or c["value"]
        return statistics.median(v) if v else None

    def failed(self, rt, cfg, pat):
        c = self.cells.get((rt, cfg, pat))
        return bool(c and c["errors"])

    def entries(self):
        out = []
        for (rt, cfg), why in self.skipped.items():
            out.append({"runtime": rt, "config": cfg, "skipped": why})
        for k in self.order:
            rt, cfg, pat = k
            c = self.cells[k]
            e = {"runtime": rt, "config": cfg, "pattern": pat, "ns_per_task_median": None,
                 "ns_per_task_min": None, "ns_per_task_max": None, "runs": len(c["vals"]) + len(c["value"])}
            if c["vals"]:
                e["ns_per_task_median"] = round(statistics.median(c["vals"]), 1)
                e["ns_per_task_min"] = round(min(c["vals"]), 1)
                e["ns_per_task_max"] = round(max(c["vals"]), 1)
            if c["value"]:
                e["value"] = round(statistics.median(c["value"]), 3)
                e["value_min"] = round(min(c["value"]), 3)
                e["value_max"] = round(max(c["value"]), 3)
            ex = c["extra"]
            if "p90_ns" in ex:
                e["p90_ns"] = statistics.median(ex["p90_ns"])
            if "min_ns" in ex:
                e["min_ns"] = min(ex["min_ns"])
            if "threads" in ex:
                e["threads"] = ex["threads"][-1]
            for f in ("daemon_calls", "client_calls", "tasks"):
                if f in ex:
                    e[f] = ex[f][-1]
            if "run_mean" in ex:
                e["running_threads_mean"] = round(statistics.median(ex["run_mean"]), 2)
                e["running_threads_peak"] = max(ex["run_peak"])
            if c["errors"]:
                e["error"] = "; ".join(sorted(set(c["errors"])))[:500]
                e["failed_runs"] = len(c["errors"])
            out.append(e)
        for (rt, cfg), m in self.metg.items():
            out.append({"runtime": rt, "config": cfg, "metg_us": m["metg_us"], "efficiency": m["points"],
                        **({"error": m["error"]} if m.get("error") else {})})
        return out


# ---- one measurement ----

def client_run(res, rt, cfg, pat, cmd, env, timeout, value_field=None):
    rc, out, err = run(cmd, env=env, timeout=timeout)
    j = last_json(out)
    if rc != 0 or j is None:
        res.add(rt, cfg, pat, error=short_err(rc, err) if rc != 0 else "no JSON line in output")
        return None
    if j.get("verified") is False:
        res.add(rt, cfg, pat, error="unverified (result differs from the sequential reference)")
        return None
    res.add(rt, cfg, pat, j=j)
    return j


SEED_RE = re.compile(r"workload (\S+): tasks (\d+), wall ([0-9.]+) s.*verify (\S+)")


def seed_run(res, build, rt, cfg, seed, args, env, timeout):
    cmd = [os.path.join(build, "workloads", seed), "--verify"] + args
    rc, out, err = run(cmd, env=env, timeout=timeout)
    m = None
    for line in (out + "\n" + err).splitlines():
        m = SEED_RE.search(line) or m
    pat = "seed_" + seed
    if rc != 0 or not m:
        res.add(rt, cfg, pat, error=short_err(rc, err) if rc != 0 else "no 'workload' line")
        return
    if not m.group(4).startswith("ok"):
        res.add(rt, cfg, pat, error="verify " + m.group(4))
        return
    tasks, wall = int(m.group(2)), float(m.group(3))
    res.add(rt, cfg, pat, j={"ns_per_task": wall * 1e9 / tasks, "tasks": tasks})


def peer_env(extra):
    e = dict(os.environ)
    e.pop("RINGSCHED_SOCKET", None)
    for k, v in extra.items():
        if v is None:
            e.pop(k, None)
        else:
            e[k] = v
    return e


# ---- phases ----

def rs_group(a, res, cfg, groups, rnd, pats):
    """One daemon for config cfg; every pattern (plus submit costs, seeds, and extras for default)."""
    d = Daemon(a.build, cfg, groups)
    try:
        why = d.start()
        if why:
            for lab, _ in pats:
                res.add("ringsched", cfg, lab, error="daemon: " + why)
            return
        rsb = os.path.join(a.build, "bench", "rs_bench")
        env = d.env()

        def ensure():
            if not d.alive():
                note("ringsched %s: daemon died (%s), restarting" % (cfg, d.log_tail()))
                d.stop()
                return d.start() is None
            return True

        for lab, args in pats:
            if ensure():
                client_run(res, "ringsched", cfg, lab, [rsb] + args + ["--config", cfg], env, a.timeout)
            else:
                res.add("ringsched", cfg, lab, error="daemon restart failed")
            if cfg == "default" and ensure():
                client_run(res, "ringsched", HOSTED, lab, [rsb] + args + ["--config", HOSTED, "--hosted"], env,
                           a.timeout)
        for v, lab in ((0, "submit_0views"), (1, "submit_1view"), (4, "submit_4views")):
            if ensure():
                client_run(res, "ringsched", cfg, lab, [rsb, "--submit-cost", str(v), "--config", cfg], env,
                           a.timeout)
        if a.seeds_all or cfg == "default" or cfg in MECH_OFF:
            for s in SEEDS:
                if ensure():
                    seed_run(res, a.build, "ringsched", cfg, s, a.seed_args[s], env, a.timeout * 2)
                if cfg == "default" and ensure():
                    seed_run(res, a.build, "ringsched", HOSTED, s, a.seed_args[s] + ["--hosted"], env,
                             a.timeout * 2)
        if cfg == "default":
            for mode in ("hot", "load"):
                if ensure():
                    client_run(res, "ringsched", cfg, "roundtrip_" + mode,
                               [rsb, "--roundtrip", mode, "--config", cfg], env, a.timeout)
            if rnd == 0:
                if ensure():
                    client_run(res, "ringsched", cfg, "roundtrip_idle",
                               [rsb, "--roundtrip", "idle", "--n", str(a.idle_reps), "--config", cfg], env,
                               a.idle_reps * 3 + 30)
                if ensure():
                    idle_cpu(a, res, d, rsb, env)
        if not d.alive():
            note("ringsched %s: daemon died during the group: %s" % (cfg, d.log_tail()))
    finally:
        d.cleanup()


def idle_cpu(a, res, d, rsb, env):
    # a burst of work, then sample the daemon's utime+stime over the idle window
    run([rsb, "--pattern", "independent", "--n", "50000"], env=env, timeout=a.timeout)
    tck = os.sysconf("SC_CLK_TCK")

    def cpu():
        with open("/proc/%d/stat" % d.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)

    try:
        c0, t0 = cpu(), time.time()
        time.sleep(a.idle_s)
        c1, t1 = cpu(), time.time()
        pct = 100.0 * (c1 - c0) / tck / (t1 - t0)
        res.add("ringsched", "default", "idle_cpu_percent", j={}, value=pct)
    except OSError as e:
        res.add("ringsched", "default", "idle_cpu_percent", error=str(e))


def peer_group(a, res, rt, cfg, binary, extra, env_extra, pats):
    exe = os.path.join(a.build, "bench", "peers", binary)
    env = peer_env(env_extra)
    for lab, args in pats:
        client_run(res, rt, cfg, lab, [exe] + args + extra, env, a.timeout)
    # the seed workloads on this peer: seed-BINARY [--lightweight] NAME ARGS (OpenBLAS on one thread, as in
    # the daemon; the program re-executes itself with it otherwise)
    sexe = os.path.join(a.build, "bench", "peers", "seed-" + binary)
    if not os.access(sexe, os.X_OK):
        return
    senv = dict(env)
    senv["OPENBLAS_NUM_THREADS"] = "1"
    for s in SEEDS:
        client_run(res, rt, cfg, "seed_" + s, [sexe] + extra + [s] + a.seed_args[s], senv, a.timeout * 2)


def one_cpu_group(a, res, rnd, pats):
    """Daemon and client both on CPU 0 while a neighbour (a busy loop) holds CPU 1."""
    if not shutil.which("taskset"):
        res.skipped[("ringsched", "one-cpu")] = "taskset missing"
        return
    ncpu = len(os.sched_getaffinity(0))
    hog = None
    d = Daemon(a.build, "one-cpu", None, prefix=["taskset", "-c", "0"])
    try:
        if ncpu >= 2:
            hog = subprocess.Popen(["taskset", "-c", "1", "sh", "-c", "while :; do :; done"],
                                   start_new_session=True)
        why = d.start()
        if why:
            res.add("ringsched", "one-cpu", "independent", error="daemon: " + why)
            return
        rsb = os.path.join(a.build, "bench", "rs_bench")
        env = d.env()
        pin = ["taskset", "-c", "0", rsb]
        sel = dict(pats)
        for lab in ("independent", "chain"):
            client_run(res, "ringsched", "one-cpu", lab, pin + sel[lab] + ["--config", "one-cpu"], env, a.timeout)
        client_run(res, "ringsched", "one-cpu", "roundtrip_hot", pin + ["--roundtrip", "hot", "--config", "one-cpu"],
                   env, a.timeout)
        if rnd == 0:
            syscalls(a, res, d, pin, env)
    finally:
        if hog:
            os.killpg(hog.pid, signal.SIGKILL)
            hog.wait()
        d.cleanup()


def strace_total(path):
    try:
        with open(path) as f:
            for line in f:
                p = line.split()
                if p and p[-1] == "total":
                    return int(p[3])
    except (OSError, ValueError, IndexError):
        pass
    return None


def syscalls(a, res, d, pin, env):
    """Untimed: strace -f -c on the daemon (attached) and on the client, independent pattern."""
    if not shutil.which("strace"):
        res.skipped[("ringsched", "one-cpu/syscalls")] = "strace missing"
        return
    n = 20000
    dlog, clog = os.path.join(d.dir, "strace-daemon"), os.path.join(d.dir, "strace-client")
    st = subprocess.Popen(["strace", "-f", "-c", "-o", dlog, "-p", str(d.proc.pid)], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        time.sleep(0.5)  # attach
        rc, out, err = run(["strace", "-f", "-c", "-o", clog] + pin + ["--pattern", "independent", "--n", str(n)],
                           env=env, timeout=a.timeout * 3)
    finally:
        st.send_signal(signal.SIGINT)  # detach: strace prints the summary
        try:
            st.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(st.pid, signal.SIGKILL)
            st.wait()
    j = last_json(out)
    dc, cc = strace_total(dlog), strace_total(clog)
    if rc != 0 or j is None or dc is None or cc is None:
        res.add("ringsched", "one-cpu", "syscalls_per_task",
                error=short_err(rc, err) if rc != 0 else "strace summary missing")
        return
    tasks = n + min(n, 20000)  # rs_bench's warm-up run plus the measured run
    res.add("ringsched", "one-cpu", "syscalls_per_task",
            j={"daemon_calls": dc, "client_calls": cc, "tasks": tasks}, value=(dc + cc) / tasks)


def calibrate(a):
    rc, out, err = run([os.path.join(a.build, "bench", "rs_bench"), "--calibrate"], timeout=30)
    j = last_json(out)
    if rc != 0 or not j:
        raise SystemExit("rs_bench --calibrate failed: " + short_err(rc, err))
    return float(j["iters_per_us"])


def metg_points(ncpu, width, ipu, grains):
    pts = []
    for g in grains:
        steps = int(round(0.2e6 / (width * g)))
        steps = max(20, min(2000, steps))
        pts.append((g, int(round(g * ipu)), steps))
    return pts


def metg_of(points):
    """points: [(grain_us, granularity_us, efficiency)] ascending grain; METG(50 %) or None."""
    prev = None
    for g, gran, eff in points:
        if eff is None:
            prev = None
            continue
        if eff >= 0.5:
            if prev is None:
                return gran  # already efficient at the smallest grain measured (an upper bound)
            (g0, gr0, e0) = prev
            if e0 == eff:
                return gran
            f = (0.5 - e0) / (eff - e0)
            return math.exp(math.log(gr0) + f * (math.log(gran) - math.log(gr0)))
        prev = (g, gran, eff)
    return None


def metg_phase(a, res, ipu, peers_avail):
    ncpu = len(os.sched_getaffinity(0))
    width = 2 * ncpu
    pts = metg_points(ncpu, width, ipu, METG_GRAINS_QUICK if a.quick else METG_GRAINS_US)
    raw = {}  # (rt, cfg) -> list of (g, gran, eff)

    def one(rt, cfg, cmd, env):
        lst = raw.setdefault((rt, cfg), [])
        errs = []
        for g, iters, steps in pts:
            walls, tasks = [], 0
            for _ in range(a.metg_reps):  # median wall of metg_reps runs
                rc, out, err = run(cmd + ["--pattern", "stencil", "--width", str(width), "--steps", str(steps),
                                          "--grain", str(iters)], env=env, timeout=a.timeout)
                j = last_json(out)
                if rc != 0 or not j or j.get("verified") is False:
                    errs.append("grain %g us: %s" % (g, short_err(rc, err) if rc != 0 else "unverified/no JSON"))
                    walls = []
                    break
                tasks = j["tasks"]
                walls.append(j["wall_ns"] / 1e3)
            if not walls:
                lst.append((g, None, None))
                continue
            wall_us = statistics.median(walls)
            lst.append((g, wall_us * ncpu / tasks, tasks * g / (wall_us * ncpu)))
        res.metg[(rt, cfg)] = {"metg_us": None, "points": [], "error": "; ".join(errs)[:500] if errs else None}

    for cfg, dcfg, extra in METG_RS:
        if ("ringsched", dcfg) in res.skipped:
            continue
        d = Daemon(a.build, dcfg, a.chosen.get(dcfg))
        try:
            why = d.check() or d.start()
            if why:
                res.metg[("ringsched", cfg)] = {"metg_us": None, "points": [], "error": why}
                continue
            one("ringsched", cfg, [os.path.join(a.build, "bench", "rs_bench"), "--config", cfg] + extra, d.env())
        finally:
            d.cleanup()
    for rt, cfg, binary, extra, env_extra in peers_avail:
        one(rt, cfg, [os.path.join(a.build, "bench", "peers", binary)] + extra, peer_env(env_extra))
    for k, lst in raw.items():
        m = res.metg[k]
        m["points"] = [{"grain_us": g, "granularity_us": None if gr is None else round(gr, 3),
                        "efficiency": None if e is None else round(e, 4)} for g, gr, e in lst]
        m["metg_us"] = metg_of(lst)
        if m["metg_us"] is not None:
            m["metg_us"] = round(m["metg_us"], 3)
    return width, pts


def plot(a, res):
    gp = shutil.which("gnuplot")
    if not gp:
        note("gnuplot missing: no efficiency.png")
        return
    term = None
    for t in ("pngcairo", "png"):
        rc, _, _ = run([gp, "-e", "set terminal %s; set output '/dev/null'; plot x" % t], timeout=20)
        if rc == 0:
            term = t
            break
    if not term:
        note("gnuplot has neither pngcairo nor png terminal: no efficiency.png")
        return
    tmp = tempfile.mkdtemp(prefix="rsbench-plot-")
    try:
        plots = []
        for i, ((rt, cfg), m) in enumerate(res.metg.items()):
            f = os.path.join(tmp, "d%d.dat" % i)
            with open(f, "w") as fh:
                for p in m["points"]:
                    if p["efficiency"] is not None:
                        fh.write("%g %g\n" % (p["grain_us"], 100 * p["efficiency"]))
            plots.append("'%s' using 1:2 with linespoints lw %d title '%s'" %
                         (f, 3 if rt == "ringsched" else 1, (rt + ":" + cfg).replace("_", "\\_")))
        if not plots:
            return
        out = os.path.join(a.out, "efficiency.png")
        script = ("set terminal %s size 1100,700\nset output '%s'\nset logscale x\nset xlabel 'task grain (us)'\n"
                  "set ylabel 'efficiency (%%)'\nset yrange [0:105]\nset key outside right\nset grid\n"
                  "set title 'Efficiency vs task grain (stencil, width 2 x CPUs); METG = grain where it crosses 50 %%'\n"
                  "plot 50 with lines dt 2 lc 'black' title '50 %%', %s\n") % (term, out, ", ".join(plots))
        p = subprocess.run([gp], input=script, text=True, capture_output=True, timeout=60)
        if p.returncode != 0:
            note("gnuplot failed: " + p.stderr.strip()[-200:])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---- tables ----

def fmt_ns(v):
    if v is None:
        return "-"
    if v >= 1e6:
        return "%.2fms" % (v / 1e6)
    if v >= 1e4:
        return "%.1fus" % (v / 1e3)
    return "%.0f" % v


def table(headers, rows):
    w = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h)) for i, h in enumerate(headers)]
    txt = ["  ".join(str(h).ljust(w[i]) for i, h in enumerate(headers)),
           "  ".join("-" * w[i] for i in range(len(headers)))]
    for r in rows:
        txt.append("  ".join(str(c).ljust(w[i]) for i, c in enumerate(r)))
    md = ["| " + " | ".join(str(h) for h in headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for r in rows:
        md.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(txt), "\n".join(md)


def cellstr(res, rt, cfg, pat):
    c = res.cells.get((rt, cfg, pat))
    if not c:
        return "-"
    if c["errors"]:
        return "FAIL"
    return fmt_ns(res.median(rt, cfg, pat))


def report(a, res, graph_pats, peers_avail, ipu, metg_info, elapsed):
    out_txt, out_md = [], []

    def section(title, headers, rows, foot=None):
        t, m = table(headers, rows)
        out_txt.append("\n== %s ==\n%s%s" % (title, t, ("\n" + foot) if foot else ""))
        out_md.append("\n### %s\n\n%s\n%s" % (title, m, ("\n" + foot + "\n") if foot else ""))

    rs_cols = [("ringsched", c) for c, _ in RS_CONFIGS if ("ringsched", c) not in res.skipped]
    peer_cols = []
    for rt, cfg, *_ in peers_avail:
        if (rt, cfg) not in peer_cols:
            peer_cols.append((rt, cfg))
    cols = [("ringsched", c) for c in ("default", "sched1-folded", "sched2-folded", "sched2-dedicated")
            if ("ringsched", c) in rs_cols]
    if ("ringsched", "default") in rs_cols:
        cols.insert(1, ("ringsched", HOSTED))
    cols += peer_cols

    def colname(rt, cfg):
        short = {"ringsched": "rs", "omp-gomp": "gomp", "omp-llvm": "llvm", "starpu": "starpu", "tbb": "tbb"}
        return short.get(rt, rt) + ("" if (cfg == "default" and rt != "ringsched") else ":" + cfg)

    rows = []
    thr = []
    for rt, cfg in cols:  # worker / scheduler threads each runtime reported
        t = set()
        for (r2, c2, _), c in res.cells.items():
            if (r2, c2) == (rt, cfg):
                t.update(c["extra"].get("threads", []))
        thr.append("/".join(str(x) for x in sorted(t)) or "-")
    rows.append(["(threads)"] + thr + [""])
    for lab in [p for p, _ in graph_pats] + ["seed_" + s for s in SEEDS]:
        r = [lab] + [cellstr(res, rt, cfg, lab) for rt, cfg in cols]
        rsv = None if res.failed("ringsched", "default", lab) else res.median("ringsched", "default", lab)
        best = [res.median(rt, cfg, lab) for rt, cfg in peer_cols if not res.failed(rt, cfg, lab)]
        best = [b for b in best if b is not None]
        r.append("%.2f" % (rsv / min(best)) if rsv and best else "-")
        rows.append(r)
    section("ns per task (median of %d run(s); FAIL = a run failed or was unverified)" % a.runs,
            ["pattern"] + [colname(*c) for c in cols] + ["rs:default ÷ best peer"], rows,
            "Last column: ringsched default's median divided by the best (lowest) peer median; < 1 means "
            "ringsched is faster. rs = ringsched (rs_bench, a separate client process, plus its daemon); the (threads) "
            "row is the scheduler/worker thread count each reported. seed_* rows: wall / tasks of the seed workload "
            "(%s), ringsched from build/workloads/NAME --verify (first submit to rs_wait_all), each "
            "peer from build/bench/peers/seed-PEER NAME (the same graph, kernels and reference; first task created "
            "to the final wait), all verified." % ("a quarter of its default sizes" if a.quick else "its default sizes"))

    # hosted vs built-in
    rows = []
    for lab in [p for p, _ in graph_pats] + ["seed_" + s for s in SEEDS]:
        if not res.cells.get(("ringsched", HOSTED, lab)):
            continue
        vb, vh = res.median("ringsched", "default", lab), res.median("ringsched", HOSTED, lab)
        bad = res.failed("ringsched", "default", lab) or res.failed("ringsched", HOSTED, lab)
        ratio = vh / vb if vb and vh and not bad else None
        rows.append([lab, cellstr(res, "ringsched", "default", lab), cellstr(res, "ringsched", HOSTED, lab),
                     "-" if ratio is None else "%.2f" % ratio,
                     "-" if ratio is None else ("yes" if ratio <= HOSTED_TARGET else "no")])
    mb, mh = res.metg.get(("ringsched", "default")), res.metg.get(("ringsched", HOSTED))
    if mb and mh:
        ok = mb["metg_us"] is not None and mh["metg_us"] is not None
        rows.append(["METG(50%) us", "null" if mb["metg_us"] is None else "%.2f" % mb["metg_us"],
                     "null" if mh["metg_us"] is None else "%.2f" % mh["metg_us"],
                     "%.2f" % (mh["metg_us"] / mb["metg_us"]) if ok else "-",
                     ("yes" if mh["metg_us"] / mb["metg_us"] <= HOSTED_TARGET else "no") if ok else "-"])
    if rows:
        section("hosted vs built-in kernels: median ns per task (one default daemon, side by side)",
                ["pattern", "built-in", "hosted", "hosted ÷ built-in", "within %.1fx" % HOSTED_TARGET], rows,
                "built-in: rs_bench / build/workloads/NAME --verify with the daemon's kernels; hosted: the same "
                "programs with --hosted, which register the daemon's very kernel bodies (kernels/builtin.c) as "
                "client-hosted kernels (rs_kernel_local): they run on the client's executor threads under core "
                "leases, so the ratio is the cost of running a task in its own process. The seed workloads' gemm "
                "is CBLAS (OpenBLAS on one thread) in the client. METG: the sweep below, rs:default vs rs:hosted.")

    # four processes at once
    jobs = multi_jobs(a, ipu)
    mcols = [("ringsched", HOSTED), ("ringsched", "default")] + \
        [c for c in MULTI_PEERS if any((c[0], c[1]) == (pe[0], pe[1]) for pe in peers_avail)]
    rows = []
    for job, _, ideal in jobs:
        pat = "multi%d_%s" % (MULTI_PROCS, job)
        if not any(res.cells.get((rt, cfg, pat)) for rt, cfg in mcols):
            continue
        r = [job, "%.2f" % ideal]
        for rt, cfg in mcols:
            c = res.cells.get((rt, cfg, pat))
            if not c:
                r.append("-")
            elif c["errors"]:
                r.append("FAIL")
            else:
                ex = c["extra"]
                r.append("%.2f s (R %.1f/%d)" % (statistics.median(c["value"]), statistics.median(ex["run_mean"]),
                                                max(ex["run_peak"])))
        vh = None if res.failed("ringsched", HOSTED, pat) else res.median("ringsched", HOSTED, pat)
        best = [res.median(rt, cfg, pat) for rt, cfg in mcols[2:] if not res.failed(rt, cfg, pat)]
        best = [b for b in best if b is not None]
        r.append("%.2f" % (vh / min(best)) if vh and best else "-")
        rows.append(r)
    if rows:
        section("%d processes at once: makespan (median of %d round(s)) and (R mean/peak running threads)" %
                (MULTI_PROCS, a.multi_reps),
                ["job", "ideal s"] + [colname(*c) for c in mcols] + ["rs:hosted ÷ best pool"], rows,
                "%d copies of one program start together; makespan = the first copy's timed run start to the last one's end "
                "(CLOCK_MONOTONIC stamps each copy reports; set-up, warm-up and verification outside it), every copy "
                "verified. "
                "rs:hosted: rs_bench --hosted, the processes' own functions under the one "
                "daemon's core leases; rs:default: the same with the daemon's kernels; gomp, llvm, tbb: the peer "
                "program, each copy with its own pool of one worker per CPU (%d CPUs, so %d workers compete). "
                "R = compute threads in state R (running or waiting for a CPU), sampled every 10 ms from /proc: for "
                "ringsched the daemon's schedulers and the copies' executors (rs-sched-N, rs-exec-N: the compute threads "
                "of the core-lease invariant; the daemon owns %d CPUs), for "
                "a peer every thread of its copies. ideal = the job's kernel time of all copies over the "
                "CPUs. Last column < 1: ringsched's hosted tasks finish sooner than the best private pool." %
                (MULTI_PROCS, len(os.sched_getaffinity(0)), MULTI_PROCS * len(os.sched_getaffinity(0)),
                 len(os.sched_getaffinity(0))))

    # METG
    rows = []
    grains = [p[0] for p in metg_info[1]]
    for (rt, cfg), m in res.metg.items():
        effs = {p["grain_us"]: p["efficiency"] for p in m["points"]}
        rows.append([colname(rt, cfg), "null" if m["metg_us"] is None else "%.2f" % m["metg_us"]] +
                    ["-" if effs.get(g) is None else "%.0f%%" % (100 * effs[g]) for g in grains])
    section("METG(50 %%) in us (stencil width %d, %d CPUs; efficiency per grain, median wall of %d run(s))" %
            (metg_info[0], len(os.sched_getaffinity(0)), a.metg_reps),
            ["runtime", "METG us"] + ["%gus" % g for g in grains], rows,
            "METG = smallest granularity (wall x cores / tasks) at which efficiency (tasks x grain / (wall x cores)) "
            "is still >= 50 %%, log-interpolated; null = never reached. bg_busy calibration: %.1f iterations/us." % ipu)

    # mechanisms
    mpats = [p for p, _ in graph_pats] + ["submit_0views", "submit_1view", "submit_4views"] + \
        ["seed_" + s for s in SEEDS]
    rows = []
    for label, off, on, claim in MECHANISMS:
        r = [label, "%s vs %s" % (on, off)]
        for p in mpats:
            if ("ringsched", off) in res.skipped or ("ringsched", on) in res.skipped:
                r.append("skip")
                continue
            if res.failed("ringsched", off, p) or res.failed("ringsched", on, p):
                r.append("FAIL")
                continue
            vo, vn = res.median("ringsched", off, p), res.median("ringsched", on, p)
            r.append("%.2f (%+.0f%%)" % (vo / vn, 100 * (vn - vo) / vo) if vo and vn else "-")
        r.append(claim)
        rows.append(r)
    section("mechanisms on vs off: ratio of median ns/task off ÷ on, and (change with the mechanism on)",
            ["mechanism", "on vs off"] + mpats + ["seeds' published claim"], rows,
            "A ratio > 1 (a negative change) means the mechanism helps; the change in parentheses is in the unit of "
            "the published claims. Dedicated wiring compares sched2-dedicated with sched2-folded (ns/task, not "
            "scheduler time). Watermark batching has no row: nothing read the published watermark, so it and "
            "session.publish_batch were removed (measured before that: publishing per task instead of every 16 "
            "cost 1.71x on independent tasks and 2.5-3x the submit cost).")

    # profiling levels
    ppats = [p for p, _ in graph_pats] + ["submit_0views", "submit_1view", "submit_4views"]
    rows = [["level 0 (off)", "default"] + [fmt_ns(res.median("ringsched", "default", p)) for p in ppats]]
    for label, cfg in PROFILING:
        r = [label, cfg]
        for p in ppats:
            if ("ringsched", cfg) in res.skipped:
                r.append("skip")
                continue
            if res.failed("ringsched", cfg, p) or res.failed("ringsched", "default", p):
                r.append("FAIL")
                continue
            v0, vl = res.median("ringsched", "default", p), res.median("ringsched", cfg, p)
            r.append("%s (%.2fx)" % (fmt_ns(vl), vl / v0) if v0 and vl else "-")
        rows.append(r)
    section("profiling overhead: median ns/task per level, and (its ratio to level 0)",
            ["level", "config"] + ppats, rows,
            "Level 0 is the default configuration: the task path then pays one relaxed load per wiring batch and "
            "a flag test per task. Level 1 keeps counters and the latency histogram of ringsched stats; level 2 "
            "stamps every stage of every task (a few clock reads, the client's submit stamp) and writes one "
            "128-byte record per task into its thread's trace ring (ringsched trace). A ratio of 1.00 means no "
            "measurable cost; differences of a few % are within the run-to-run noise of a shared machine.")

    # micro
    rows = []
    micro = [("ringsched", "default", "submit_0views", "ns per rs_submit, no views"),
             ("ringsched", "default", "submit_1view", "ns per rs_submit, 1 INOUT view"),
             ("ringsched", "default", "submit_4views", "ns per rs_submit, OUT + 3 IN views"),
             ("ringsched", "inline-wiring", "submit_0views", "same, deferred wiring off"),
             ("ringsched", "inline-wiring", "submit_1view", "same, deferred wiring off"),
             ("ringsched", "inline-wiring", "submit_4views", "same, deferred wiring off"),
             ("ringsched", "default", "roundtrip_hot", "submit + wait one task, back to back"),
             ("ringsched", "default", "roundtrip_idle", "after 1 s idle"),
             ("ringsched", "default", "roundtrip_load", "while another session runs 50 us tasks"),
             ("ringsched", "none", "futex_wake_floor", "one-way futex wake, 2 pinned threads, no daemon"),
             ("ringsched", "one-cpu", "independent", "client + daemon on CPU 0, neighbour busy on CPU 1"),
             ("ringsched", "one-cpu", "chain", "same"),
             ("ringsched", "one-cpu", "roundtrip_hot", "same"),
             ("ringsched", "one-cpu", "syscalls_per_task", "system calls per task (daemon + client, strace -c)"),
             ("ringsched", "default", "idle_cpu_percent", "daemon CPU %% while idle (%g s after a burst)" % a.idle_s)]
    for rt, cfg, pat, what in micro:
        c = res.cells.get((rt, cfg, pat))
        if not c:
            continue
        if c["errors"]:
            rows.append([pat, cfg, "FAIL", "", "", what + " — " + c["errors"][0][:80]])
            continue
        ex = c["extra"]
        if c["value"]:
            v = statistics.median(c["value"])
            val = "%.2f" % v
            if "daemon_calls" in ex:
                what += " (daemon %d + client %d calls / %d tasks)" % (ex["daemon_calls"][-1], ex["client_calls"][-1],
                                                                     ex["tasks"][-1])
        else:
            val = fmt_ns(res.median(rt, cfg, pat))
        p90 = fmt_ns(statistics.median(ex["p90_ns"])) if "p90_ns" in ex else ""
        mn = fmt_ns(min(ex["min_ns"])) if "min_ns" in ex else ""
        rows.append([pat, cfg, val, p90, mn, what])
    section("micro metrics (ns unless noted)", ["metric", "config", "median", "p90", "min", "what"], rows)

    fails = []
    for (rt, cfg, pat) in res.order:
        c = res.cells[(rt, cfg, pat)]
        if c["errors"]:
            fails.append("%s %s %s: %d failed run(s): %s" % (rt, cfg, pat, len(c["errors"]), c["errors"][0][:160]))
    for (rt, cfg), m in res.metg.items():
        if m.get("error"):
            fails.append("METG %s %s: %s" % (rt, cfg, m["error"][:160]))
    if fails:
        section("failures", ["what"], [[f] for f in fails])
    skipped = ["%s %s: %s" % (rt, cfg, why) for (rt, cfg), why in res.skipped.items()]
    foot = "\nskipped: " + ("; ".join(skipped) if skipped else "none")
    foot += "\nnotes: " + ("; ".join(LOG) if LOG else "none")
    foot += "\nelapsed: %.0f s" % elapsed
    text = "\n".join(out_txt) + "\n" + foot
    say(text)
    cmd = "make bench-quick" if a.quick else "make bench"
    md = ("# ringsched benchmark results\n\n`%s` (python3 bench/run.py %s) — %s, %d CPUs, %s\n" %
          (cmd, " ".join(sys.argv[1:]), datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S %Z").strip(),
           len(os.sched_getaffinity(0)), os.uname().release)) + "\n".join(out_md) + "\n" + \
        foot.replace("\n", "\n\n") + "\n"
    with open(os.path.join(a.out, "latest.md"), "w") as f:
        f.write(md)


def write_files(a, res):
    ents = res.entries()
    with open(os.path.join(a.out, "latest.json"), "w") as f:
        json.dump(ents, f, indent=1)
        f.write("\n")
    fields = ["runtime", "config", "pattern", "ns_per_task_median", "ns_per_task_min", "ns_per_task_max", "runs",
              "value", "p90_ns", "min_ns", "threads", "metg_us", "skipped", "error"]
    with open(os.path.join(a.out, "latest.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        for e in ents:
            w.writerow(e)


# ---- four processes at once ----

def running_threads(pids, prefix=None):
    """Threads in state R (running, or runnable and waiting for a CPU) of the processes pids (/proc); with
    prefix, only the threads whose name starts with it."""
    n = 0
    for pid in pids:
        try:
            tids = os.listdir("/proc/%d/task" % pid)
        except OSError:
            continue
        for t in tids:
            try:
                with open("/proc/%d/task/%s/stat" % (pid, t)) as f:
                    head, tail = f.read().rsplit(")", 1)
                if tail.split()[0] == "R" and (prefix is None or head.split("(", 1)[1].startswith(prefix)):
                    n += 1
            except (OSError, IndexError):
                pass
    return n


def multi_run(cmds, env, timeout, daemon_pid=None):
    """Starts every command at once. Returns (makespan s or None, [(rc, out, err)], running-thread samples):
    the makespan runs from the first start to the last exit; every 10 ms meanwhile a sample counts the
    compute threads in state R — with daemon_pid (ringsched) the daemon's schedulers (rs-sched-N) and the
    commands' executors (rs-exec-N), else every thread of the commands' processes."""
    done = [None] * len(cmds)
    outs = [None] * len(cmds)
    t0 = time.time()
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
                              start_new_session=True) for c in cmds]

    def reap(i):
        try:
            o, e = procs[i].communicate(timeout=timeout)
            outs[i] = (procs[i].returncode, o, e)
        except subprocess.TimeoutExpired:
            os.killpg(procs[i].pid, signal.SIGKILL)
            o, e = procs[i].communicate()
            outs[i] = (None, o, (e or "") + "\n[killed after %ss timeout]" % timeout)
        done[i] = time.time()

    th = [threading.Thread(target=reap, args=(i,)) for i in range(len(cmds))]
    for t in th:
        t.start()
    samples = []
    while any(x is None for x in done):
        live = [p.pid for i, p in enumerate(procs) if done[i] is None]
        if daemon_pid is None:
            samples.append(running_threads(live))
        else:
            samples.append(running_threads([daemon_pid], "rs-sched") + running_threads(live, "rs-exec"))
        time.sleep(0.01)
    for t in th:
        t.join()
    if any(o[0] is None for o in outs):
        return None, outs, samples
    return max(done) - t0, outs, samples


def multi_jobs(a, ipu):
    """[(job label, graph arguments of rs_bench and the peers, ideal makespan s)]: a stencil of width 8 at two
    grains, about 0.25 s of kernel time per process each (a fifth of that in quick runs)."""
    ncpu = len(os.sched_getaffinity(0))
    jobs = []
    for grain_us, width in ((20, 8), (200, 8)):
        steps = int(0.25e6 / (width * grain_us) / (5 if a.quick else 1))
        jobs.append(("stencil_w%d_%dus" % (width, grain_us),
                     ["--pattern", "stencil", "--width", str(width), "--steps", str(steps), "--grain",
                      str(int(round(grain_us * ipu)))], MULTI_PROCS * width * steps * grain_us / 1e6 / ncpu))
    return jobs


def multi_span(outs):
    """(makespan s, None) of the processes' timed runs — first start (end_ns - wall_ns, CLOCK_MONOTONIC) to last
    end — or (None, the first failure) unless every process ran and verified."""
    runs = []
    for rc, out, err in outs:
        if rc != 0:
            return None, short_err(rc, err)
        j = last_json(out)
        if j is None or "end_ns" not in j:
            return None, "no JSON line with end_ns in output"
        if j.get("verified") is not True:
            return None, "unverified (result differs from the sequential reference)"
        runs.append((j["end_ns"] - j["wall_ns"], j["end_ns"]))
    return (max(e for _, e in runs) - min(s for s, _ in runs)) / 1e9, None


def multi_phase(a, res, ipu, peers_avail):
    """MULTI_PROCS processes at once, per job: ringsched hosted and built-in (one default daemon shared by the
    processes), and every MULTI_PEERS peer (each process its own pool); rounds interleaved."""
    rsb = os.path.join(a.build, "bench", "rs_bench")
    peers = [pe for pe in peers_avail if (pe[0], pe[1]) in MULTI_PEERS]
    d = Daemon(a.build, "multi", None)
    try:
        why = d.start()
        for rnd in range(a.multi_reps):
            runners = [("ringsched", HOSTED), ("ringsched", "default")] + [(pe[0], pe[1]) for pe in peers]
            k = rnd % len(runners)
            for rt, cfg in runners[k:] + runners[:k]:
                for job, gargs, _ in multi_jobs(a, ipu):
                    pat = "multi%d_%s" % (MULTI_PROCS, job)
                    if rt == "ringsched":
                        if why or not d.alive():
                            res.add(rt, cfg, pat, error="daemon: " + (why or d.log_tail()))
                            continue
                        cmd = [rsb] + gargs + ["--config", cfg] + (["--hosted"] if cfg == HOSTED else [])
                        env, dpid = d.env(), d.proc.pid
                    else:
                        pe = [p for p in peers if (p[0], p[1]) == (rt, cfg)][0]
                        cmd = [os.path.join(a.build, "bench", "peers", pe[2])] + gargs + pe[3]
                        env, dpid = peer_env(pe[4]), None
                    life, outs, samples = multi_run([cmd] * MULTI_PROCS, env, a.timeout * 2, dpid)
                    span, fail = multi_span(outs) if life is not None else (None, "timeout")
                    if fail:
                        res.add(rt, cfg, pat, error=fail)
                        continue
                    res.add(rt, cfg, pat, j={"run_mean": statistics.mean(samples) if samples else 0,
                                             "run_peak": max(samples) if samples else 0}, value=span)
    finally:
        d.cleanup()


# ---- main ----

def on_sigterm(signum, frame):
    raise SystemExit("bench/run.py: terminated by signal %d (daemons stopped, temp dirs removed)" % signum)


def main():
    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGHUP, on_sigterm)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, 1 run (make bench-quick)")
    ap.add_argument("--runs", type=int, help="timed runs per (runtime, config, pattern); default 7 when the first "
                    "round shows they fit in the time budget, else 5; quick 1")
    ap.add_argument("--budget", type=float, default=12.0, help="minutes the full run should stay under (default 12)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    ap.add_argument("--timeout", type=int, help="seconds per client run (default 120, quick 40)")
    ap.add_argument("--seeds-all", action="store_true", help="run the seed workloads under every ringsched config")
    ap.add_argument("--no-metg", action="store_true")
    ap.add_argument("--only", help="comma-separated phases to run: rounds, multi, metg (default all); the "
                    "report then holds only their tables")
    a = ap.parse_args()
    a.build = os.path.abspath(a.build)
    a.phases = set((a.only or "rounds,multi,metg").split(","))
    if not a.phases <= {"rounds", "multi", "metg"}:
        ap.error("--only: phases are rounds, multi, metg")
    if a.no_metg:
        a.phases.discard("metg")
    auto_runs = a.runs is None and not a.quick
    a.runs = a.runs or (1 if a.quick else 5)
    a.timeout = a.timeout or (40 if a.quick else 120)
    a.idle_s = 2 if a.quick else 5
    a.metg_reps = 1 if a.quick else 3
    a.idle_reps = 3 if a.quick else 10
    a.multi_reps = 1 if a.quick else 3
    a.seed_args = seed_args(a.quick)
    os.makedirs(a.out, exist_ok=True)
    t_start = time.time()
    res = Results()

    for exe in ("ringschedd", "bench/rs_bench"):
        if not os.access(os.path.join(a.build, exe), os.X_OK):
            raise SystemExit("missing %s/%s: run make first" % (a.build, exe))

    # which configs the daemon accepts; a config with alternatives takes the first one accepted
    rs_ok = []
    chosen = {}
    for cfg, alts in RS_CONFIGS:
        why = None
        for groups in (alts if isinstance(alts, list) else [alts]):
            d = Daemon(a.build, cfg, groups)
            try:
                w = d.check()
            finally:
                d.cleanup()
            why = w if why is None else why + "; " + (w or "")
            if not w:
                why = None
                chosen[cfg] = groups
                if isinstance(alts, list) and groups is not alts[0]:
                    note("ringsched %s: the daemon rejects %s, using %s" %
                         (cfg, config_text(alts[0]).splitlines()[0], config_text(groups).splitlines()[0]))
                break
        groups = chosen.get(cfg)
        if why:
            res.skipped[("ringsched", cfg)] = "config rejected: " + why
            say("skipping ringsched %s (config rejected: %s)" % (cfg, why))
        else:
            rs_ok.append((cfg, groups))
    a.chosen = chosen
    peers_avail = []
    for pe in PEERS:
        exe = os.path.join(a.build, "bench", "peers", pe[2])
        if os.access(exe, os.X_OK):
            peers_avail.append(pe)
        else:
            res.skipped[(pe[0], pe[1])] = "binary %s missing" % os.path.relpath(exe, ROOT)
            say("skipping %s %s (no %s)" % (pe[0], pe[1], os.path.relpath(exe, ROOT)))

    for pe in peers_avail:
        sexe = os.path.join(a.build, "bench", "peers", "seed-" + pe[2])
        if not os.access(sexe, os.X_OK):
            note("%s %s: no %s, so no seed_* rows for it" % (pe[0], pe[1], os.path.relpath(sexe, ROOT)))
    ipu = calibrate(a)
    say("bg_busy: %.1f iterations/us; %d CPUs; %s round(s)" % (ipu, len(os.sched_getaffinity(0)),
                                                               "5 or 7" if auto_runs else a.runs))
    pats = patterns(a.quick)

    # interleaved rounds: ringsched daemon groups alternate with peer configs; the start rotates each round
    groups = []
    for i in range(max(len(rs_ok), len(peers_avail))):
        if i < len(rs_ok):
            groups.append(("rs",) + rs_ok[i])
        if i < len(peers_avail):
            groups.append(("peer",) + peers_avail[i])
    groups.append(("one-cpu",))
    groups.append(("futex",))
    rnd = 0
    while rnd < a.runs and "rounds" in a.phases:
        t_r = time.time()
        k = rnd % len(groups)
        for g in groups[k:] + groups[:k]:
            if g[0] == "rs":
                rs_group(a, res, g[1], g[2], rnd, pats)
            elif g[0] == "peer":
                peer_group(a, res, g[1], g[2], g[3], g[4], g[5], pats)
            elif g[0] == "one-cpu":
                one_cpu_group(a, res, rnd, pats)
            else:
                client_run(res, "ringsched", "none", "futex_wake_floor",
                           [os.path.join(a.build, "bench", "rs_bench"), "--futex-floor", "--config", "none"],
                           None, a.timeout)
        dt = time.time() - t_r
        if auto_runs and rnd == 0:
            # 7 rounds if they (plus the METG sweep, about 2.5 min on 2 CPUs, the four-process phase, about
            # 1.5 min, and a 10 % margin) fit the budget,
            # else 5
            proj = (time.time() - t_start) + 6 * dt * 1.1 + 240
            a.runs = 7 if proj < a.budget * 60 else 5
            say("round 1 took %.0f s: %d rounds (7 would end at about %.1f min; budget %.0f min)" %
                (dt, a.runs, proj / 60, a.budget))
        say("round %d/%d done in %.0f s" % (rnd + 1, a.runs, dt))
        rnd += 1

    if "multi" in a.phases:
        t_m = time.time()
        multi_phase(a, res, ipu, peers_avail)
        say("four-process phase done in %.0f s" % (time.time() - t_m))
    metg_info = (0, [])
    if "metg" in a.phases:
        t_m = time.time()
        metg_info = metg_phase(a, res, ipu, peers_avail)
        say("METG sweep done in %.0f s" % (time.time() - t_m))
        plot(a, res)
    write_files(a, res)
    report(a, res, pats, peers_avail, ipu, metg_info, time.time() - t_start)
    say("results: %s/latest.{json,csv,md}%s" % (os.path.relpath(a.out, ROOT),
                                              ", efficiency.png" if os.path.exists(os.path.join(a.out, "efficiency.png")) else ""))
    say("elapsed: %.0f s" % (time.time() - t_start))


if __name__ == "__main__":
    main()
