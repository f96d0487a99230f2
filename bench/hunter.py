"""Hunter against Bandit and detect-secrets on the same machine, in one run.

    python bench/hunter.py [--jobs N] [--cell-runs N] [--skip-speed] [--skip-robustness] [--json]

Prints, side by side:

- speed over this interpreter's standard library (every ``.py`` file outside
  ``site-packages``, copied to a temporary tree so every tool reads the same
  files): Hunter cold (fresh content-hash cache, ``--jobs`` worker processes, as
  ``grace scan`` runs) and warm (the same cache, second run), against
  ``bandit -r -q -f json``; Hunter's secret rules alone (the same ``--jobs``)
  against ``detect-secrets -c JOBS scan --all-files``;
- per-cell latency: ``scan_code(cell, kind="cell")`` with one reused scanner over
  typical notebook cells, p50 and p99;
- quality on the labelled corpus ``tests/hunter/corpus`` (``labels.yaml``):
  per-category recall and precision of Hunter, Bandit (test ids mapped to
  Hunter's categories by ``BANDIT_CATEGORIES``) and detect-secrets; Bandit reads
  no notebooks, Markdown or HTML, so those cases count as missed;
- robustness: a binary file, a 50 MB text file, 10,000- and 40,000-element list literals,
  500-level nested expressions, invalid UTF-8 and malformed notebooks, each
  scanned or skipped with a note.

Targets (beside the measured figures; never asserted): cold >= 5x Bandit, warm
>= 50x Bandit, secrets >= 10x detect-secrets, p50 <= 2 ms, p99 <= 10 ms, Hunter
recall >= Bandit's in every category Bandit covers, Hunter precision >= 0.9.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from grace_kernel.hunter import ScanCache, Scanner, scan_code, scan_paths
from grace_kernel.hunter._registry import CATEGORIES, SecretRule

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "hunter" / "corpus"
BIN = Path(sys.executable).parent
INDEX_FILES = frozenset({"labels.yaml", "ruff.toml"})

# Bandit test id -> Hunter category.  Ids not listed (B101 assert, B110 try/except/pass,
# B112 try/except/continue, B108 /tmp paths, B404 import subprocess, ...) are hygiene
# checks with no counterpart category; they are ignored, neither hits nor false positives.
BANDIT_CATEGORIES: dict[str, str] = {
    "B102": "dangerous-call",  # exec
    "B103": "dangerous-call",  # chmod with a permissive mask
    "B104": "network",  # server bound to all interfaces
    "B105": "secrets",  # hard-coded password string
    "B106": "secrets",  # hard-coded password argument
    "B107": "secrets",  # hard-coded password default
    "B113": "network",  # request without a timeout
    "B202": "path-traversal",  # tarfile.extractall without member checks
    "B301": "deserialization",  # pickle (and shelve, dill, jsonpickle through pickle)
    "B302": "deserialization",  # marshal
    "B303": "crypto",  # md5 / sha1 (older Bandit)
    "B304": "crypto",  # weak ciphers
    "B305": "crypto",  # ECB mode
    "B306": "dangerous-call",  # tempfile.mktemp
    "B307": "dangerous-call",  # eval
    "B308": "xss",  # mark_safe
    "B310": "network",  # urllib.urlopen of an arbitrary URL scheme
    "B311": "crypto",  # random for security
    "B312": "network",  # telnetlib client: a cleartext connection
    "B313": "dangerous-call",  # xml.etree, xml.sax, expat, minidom, pulldom parsing calls
    "B314": "dangerous-call",
    "B315": "dangerous-call",
    "B316": "dangerous-call",
    "B317": "dangerous-call",
    "B318": "dangerous-call",
    "B319": "dangerous-call",
    "B320": "dangerous-call",  # lxml parsing calls
    "B321": "network",  # ftplib client: a cleartext connection
    "B323": "crypto",  # unverified SSL context
    "B324": "crypto",  # hashlib md5/sha1/new with a weak name
    "B401": "blocklist-import",
    "B402": "blocklist-import",
    "B403": "blocklist-import",
    "B405": "blocklist-import",
    "B406": "blocklist-import",
    "B407": "blocklist-import",
    "B408": "blocklist-import",
    "B409": "blocklist-import",
    "B410": "blocklist-import",
    "B411": "blocklist-import",
    "B412": "blocklist-import",
    "B413": "blocklist-import",
    "B415": "blocklist-import",
    "B501": "crypto",  # certificate verification off
    "B502": "crypto",  # weak SSL/TLS protocol version
    "B503": "crypto",
    "B504": "crypto",
    "B505": "crypto",  # weak key size
    "B506": "deserialization",  # yaml.load
    "B507": "crypto",  # ssh host key not verified
    "B601": "injection",  # paramiko exec_command
    "B602": "injection",  # subprocess with shell=True
    "B603": "injection",  # subprocess without shell
    "B604": "injection",  # any call with shell=True
    "B605": "injection",  # os.system and friends
    "B606": "injection",  # process start without a shell
    "B607": "injection",  # process start with a partial path
    "B608": "sql",  # SQL built from strings
    "B609": "injection",  # wildcard in a command
    "B610": "sql",  # Django extra
    "B611": "sql",  # Django RawSQL
    "B612": "dangerous-call",  # logging.config.listen
    "B613": "obfuscation",  # trojan source (bidirectional characters)
    "B614": "deserialization",  # torch.load
    "B615": "deserialization",  # huggingface unsafe download
    "B701": "xss",  # jinja2 autoescape off
    "B702": "xss",  # mako templates
    "B703": "xss",  # django mark_safe
    "B704": "xss",  # markupsafe.Markup on non-literal
}
BANDIT_COVERS = frozenset(BANDIT_CATEGORIES.values()) | {"notebook"}  # notebooks: scored, missed
# Hunter files findings in cell outputs under "output"; the corpus labels them "notebook".
FOLD = {"output": "notebook"}

TARGETS = {
    "cold_vs_bandit": 5.0,
    "warm_vs_bandit": 50.0,
    "secrets_vs_detect_secrets": 10.0,
    "cell_p50_ms": 2.0,
    "cell_p99_ms": 10.0,
    "list_literal_s": 1.0,
    "precision": 0.9,
}

# Typical notebook cells: loads, cleaning, plots, a fit, one or two with findings.
CELLS: tuple[str, ...] = (
    """import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
import seaborn as sns

pd.set_option("display.max_columns", 50)
plt.rcParams["figure.figsize"] = (10, 6)
sns.set_theme(style="whitegrid")

DATA_DIR = "data/raw"
measurements = pd.read_csv(f"{DATA_DIR}/measurements.csv", parse_dates=["timestamp"])
sites = pd.read_parquet(f"{DATA_DIR}/sites.parquet")
print(measurements.shape, sites.shape)

df = measurements.merge(sites, on="site_id", how="left")
df["day"] = df["timestamp"].dt.floor("D")
df["temp_c"] = (df["temp_f"] - 32) * 5 / 9
df = df.dropna(subset=["temp_c", "humidity"])
df = df[df["humidity"].between(0, 100)]

daily = (
    df.groupby(["site_id", "day"])
    .agg(temp=("temp_c", "mean"), hum=("humidity", "mean"), n=("temp_c", "size"))
    .reset_index()
)
daily["temp_7d"] = daily.groupby("site_id")["temp"].transform(
    lambda s: s.rolling(7, min_periods=3).mean()
)
daily.head(10)
""",
    """fig, axes = plt.subplots(2, 2, figsize=(14, 9), sharex=True)
for ax, (site, group) in zip(axes.flat, daily.groupby("site_id")):
    ax.plot(group["day"], group["temp"], alpha=0.4, label="daily")
    ax.plot(group["day"], group["temp_7d"], linewidth=2, label="7-day mean")
    ax.set_title(f"Site {site}")
    ax.set_ylabel("Temperature (C)")
    ax.legend(loc="upper left")
    ax.grid(True, alpha=0.3)

fig.suptitle("Temperature by site", fontsize=16)
fig.autofmt_xdate()
fig.tight_layout()
fig.savefig("figures/temperature_by_site.png", dpi=150)

corr = daily[["temp", "hum", "n"]].corr()
plt.figure(figsize=(5, 4))
sns.heatmap(corr, annot=True, fmt=".2f", cmap="vlag", vmin=-1, vmax=1)
plt.title("Correlation")
plt.show()

summary = daily.describe().T
summary["cv"] = summary["std"] / summary["mean"]
summary.round(3)
""",
    """from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.metrics import mean_absolute_error, r2_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

features = ["hum", "n", "site_id", "month"]
daily["month"] = daily["day"].dt.month
X, y = daily[features], daily["temp"]
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)

pre = ColumnTransformer(
    [
        ("num", StandardScaler(), ["hum", "n"]),
        ("cat", OneHotEncoder(handle_unknown="ignore"), ["site_id", "month"]),
    ]
)
model = Pipeline([("pre", pre), ("gbr", GradientBoostingRegressor(n_estimators=300))])
model.fit(X_train, y_train)

pred = model.predict(X_test)
print(f"MAE {mean_absolute_error(y_test, pred):.3f}")
print(f"R2  {r2_score(y_test, pred):.3f}")

importances = model.named_steps["gbr"].feature_importances_
names = model.named_steps["pre"].get_feature_names_out()
ranking = sorted(zip(importances, names), reverse=True)[:10]
for score, name in ranking:
    print(f"{name:30s} {score:.4f}")
""",
    """import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

device = "cuda" if torch.cuda.is_available() else "cpu"
X_t = torch.tensor(X_train[["hum", "n"]].values, dtype=torch.float32)
y_t = torch.tensor(y_train.values, dtype=torch.float32).unsqueeze(1)
loader = DataLoader(TensorDataset(X_t, y_t), batch_size=64, shuffle=True)

net = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 1))
net.to(device)
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
loss_fn = nn.MSELoss()

history = []
for epoch in range(20):
    net.train()
    total = 0.0
    for xb, yb in loader:
        xb, yb = xb.to(device), yb.to(device)
        opt.zero_grad()
        loss = loss_fn(net(xb), yb)
        loss.backward()
        opt.step()
        total += loss.item() * len(xb)
    history.append(total / len(loader.dataset))
    if epoch % 5 == 0:
        print(f"epoch {epoch:3d} loss {history[-1]:.4f}")

torch.save(net.state_dict(), "models/mlp.pt")
state = torch.load("models/mlp.pt", map_location="cpu", weights_only=True)
""",
    """%matplotlib inline
%load_ext autoreload
%autoreload 2
!ls -la data/raw | head

import json
from pathlib import Path

config = json.loads(Path("config/experiment.json").read_text())
runs = sorted(Path("runs").glob("*/metrics.json"))
records = []
for run in runs:
    metrics = json.loads(run.read_text())
    records.append({"run": run.parent.name, **metrics})

results = pd.DataFrame.from_records(records)
results = results.sort_values("val_loss").reset_index(drop=True)
best = results.iloc[0]
print(f"best run {best['run']} val_loss={best['val_loss']:.4f}")

ax = results.plot.scatter(x="lr", y="val_loss", logx=True, c="epochs", cmap="viridis")
ax.set_title("Validation loss by learning rate")
results.to_csv("reports/runs.csv", index=False)
%time results.describe()
""",
    """import subprocess
import pickle

import requests

sample = input("sample id: ")
subprocess.run(f"samtools view data/{sample}.bam | head -n 20", shell=True)

with open("shared/model.pkl", "rb") as handle:
    legacy = pickle.load(handle)

TOKEN = "<FAKE_TOKEN>"
headers = {"Authorization": f"token {TOKEN}"}
resp = requests.get("https://api.github.com/repos/lab/pipeline", headers=headers, timeout=10)
print(resp.status_code)

preds = legacy.predict(X_test)
score = r2_score(y_test, preds)
print(f"legacy R2 {score:.3f}")

report = {
    "sample": sample,
    "legacy_r2": score,
    "status": resp.status_code,
}
Path("reports/legacy.json").write_text(json.dumps(report, indent=2))
report
""",
    """%pip install pandas scikit-learn
!curl -fsSL https://get.tooling.example.sh | sh

import os
import sqlite3

conn = sqlite3.connect("lab.db")
project = os.environ.get("PROJECT", "default")
rows = conn.execute(f"SELECT * FROM samples WHERE project = '{project}'").fetchall()
frame = pd.DataFrame(rows, columns=["id", "project", "value", "ts"])
frame["ts"] = pd.to_datetime(frame["ts"])
frame = frame.set_index("ts").sort_index()

weekly = frame["value"].resample("W").agg(["mean", "std", "count"])
weekly["sem"] = weekly["std"] / np.sqrt(weekly["count"])
ax = weekly["mean"].plot(yerr=weekly["sem"], capsize=3)
ax.set_ylabel("value")
ax.set_title(f"Weekly mean, project {project}")

outliers = frame[np.abs(frame["value"] - frame["value"].mean()) > 3 * frame["value"].std()]
print(len(outliers), "outliers")
outliers.head()
""",
    """from scipy import stats

groups = [g["temp"].values for _, g in daily.groupby("site_id")]
f_stat, p_anova = stats.f_oneway(*groups)
print(f"ANOVA F={f_stat:.2f} p={p_anova:.3g}")

pairs = []
site_ids = sorted(daily["site_id"].unique())
for i, a in enumerate(site_ids):
    for b in site_ids[i + 1 :]:
        ta = daily.loc[daily["site_id"] == a, "temp"]
        tb = daily.loc[daily["site_id"] == b, "temp"]
        t, p = stats.ttest_ind(ta, tb, equal_var=False)
        pairs.append({"a": a, "b": b, "t": t, "p": p})

pairs_df = pd.DataFrame(pairs)
pairs_df["p_adj"] = np.minimum(pairs_df["p"] * len(pairs_df), 1.0)
significant = pairs_df[pairs_df["p_adj"] < 0.05]
print(f"{len(significant)} of {len(pairs_df)} pairs differ")

g = sns.FacetGrid(daily, col="site_id", col_wrap=3, height=3)
g.map_dataframe(sns.histplot, x="temp", bins=30)
g.set_axis_labels("Temperature (C)", "days")
g.tight_layout()
significant.sort_values("p_adj").head(10)
""",
)
# A fabricated token, assembled here so this file itself carries no secret-shaped literal.
CELLS = tuple(
    c.replace("<FAKE_TOKEN>", "ghp_" + "Zt8Qw3LmN0vBx5RkYp2HsJd7CfGa4EuTi9Ko") for c in CELLS
)


# --------------------------------------------------------------------------- helpers


def ratio(anchor: float, ours: float) -> float:
    return anchor / ours if ours > 0 else float("inf")


def stdlib_files() -> list[Path]:
    root = Path(sysconfig.get_paths()["stdlib"])
    skip = {"site-packages", "dist-packages", "__pycache__"}
    return sorted(
        p for p in root.rglob("*.py") if not skip & set(p.relative_to(root).parts) and p.is_file()
    )


def copy_tree(files: Sequence[Path], source_root: Path, dest: Path) -> None:
    for path in files:
        target = dest / path.relative_to(source_root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)


def timed_run(argv: list[str], *, cwd: Path | None = None) -> tuple[float, str, str]:
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, check=False)
    return time.perf_counter() - start, proc.stdout, proc.stderr


def tool(name: str) -> Path | None:
    path = BIN / name
    if path.exists():
        return path
    found = shutil.which(name)
    return Path(found) if found else None


# --------------------------------------------------------------------------- speed

_SECRET_WORKER: dict[str, Any] = {}


def _init_secret_worker(rules: list[SecretRule]) -> None:
    from grace_kernel.hunter._secrets import SecretScanner

    _SECRET_WORKER["scanner"] = SecretScanner(rules)


def _secret_chunk(paths: list[str]) -> int:
    scanner = _SECRET_WORKER["scanner"]
    hits = 0
    for name in paths:
        text = Path(name).read_bytes().decode("utf-8", errors="replace")
        hits += sum(1 for _ in scanner.scan(text))
    return hits


def secrets_only(scanner: Scanner, files: Sequence[Path], jobs: int) -> tuple[float, int]:
    """Hunter's secret rules alone over ``files`` (read, decode, scan), ``jobs`` workers."""
    names = [str(p) for p in files]
    start = time.perf_counter()
    if jobs > 1:
        chunks = [names[i : i + 64] for i in range(0, len(names), 64)]
        with ProcessPoolExecutor(
            max_workers=jobs,
            initializer=_init_secret_worker,
            initargs=(list(scanner.registry.secrets),),
        ) as pool:
            hits = sum(pool.map(_secret_chunk, chunks))
    else:
        _init_secret_worker(list(scanner.registry.secrets))
        hits = _secret_chunk(names)
    return time.perf_counter() - start, hits


def bench_speed(jobs: int) -> dict[str, Any]:
    root = Path(sysconfig.get_paths()["stdlib"])
    files = stdlib_files()
    out: dict[str, Any] = {"stdlib": str(root), "files": len(files), "jobs": jobs}
    with tempfile.TemporaryDirectory(prefix="grace-bench-hunter-") as tmp:
        tree = Path(tmp) / "stdlib"
        copy_tree(files, root, tree)
        copied = sorted(tree.rglob("*.py"))
        out["lines"] = sum(p.read_bytes().count(b"\n") for p in copied)

        start = time.perf_counter()
        scanner = Scanner()
        out["hunter_rules_load_s"] = time.perf_counter() - start
        out["hunter_rules"] = len(scanner.registry.rules)

        cache = ScanCache(Path(tmp) / "hunter-cache.db")
        try:
            start = time.perf_counter()
            cold = scan_paths([tree], scanner=scanner, jobs=jobs, cache=cache, base=tree)
            out["hunter_cold_s"] = time.perf_counter() - start
            start = time.perf_counter()
            warm = scan_paths([tree], scanner=scanner, jobs=jobs, cache=cache, base=tree)
            out["hunter_warm_s"] = time.perf_counter() - start
        finally:
            cache.close()
        out["hunter_files"] = cold.files
        out["hunter_lines"] = cold.lines
        out["hunter_findings"] = len(cold.findings)
        out["hunter_warm_same"] = len(warm.findings) == len(cold.findings)
        out["hunter_notes"] = len(cold.notes)

        secrets_s, secret_hits = secrets_only(scanner, copied, jobs)
        out["hunter_secrets_s"] = secrets_s
        out["hunter_secret_hits"] = secret_hits

        bandit = tool("bandit")
        if bandit is None:
            out["bandit_s"] = None
            out["bandit_note"] = "bandit not installed (pip install bandit==1.9.4)"
        else:
            seconds, stdout, _ = timed_run([str(bandit), "-r", "-q", "-f", "json", str(tree)])
            out["bandit_s"] = seconds
            try:
                report = json.loads(stdout)
                out["bandit_findings"] = len(report.get("results", []))
                out["bandit_lines"] = report.get("metrics", {}).get("_totals", {}).get("loc")
            except json.JSONDecodeError:
                out["bandit_note"] = "bandit printed no JSON report"
        detect = tool("detect-secrets")
        if detect is None:
            out["detect_secrets_s"] = None
            out["detect_secrets_note"] = (
                "detect-secrets not installed (pip install detect-secrets==1.5.0)"
            )
        else:
            argv = [str(detect), "-c", str(jobs), "scan", "--all-files", "."]
            seconds, stdout, _ = timed_run(argv, cwd=tree)
            out["detect_secrets_s"] = seconds
            try:
                found = json.loads(stdout).get("results", {})
                out["detect_secrets_findings"] = sum(len(v) for v in found.values())
            except json.JSONDecodeError:
                out["detect_secrets_note"] = "detect-secrets printed no JSON report"
    if out.get("bandit_s"):
        out["cold_vs_bandit"] = ratio(out["bandit_s"], out["hunter_cold_s"])
        out["warm_vs_bandit"] = ratio(out["bandit_s"], out["hunter_warm_s"])
    if out.get("detect_secrets_s"):
        out["secrets_vs_detect_secrets"] = ratio(out["detect_secrets_s"], out["hunter_secrets_s"])
    return out


# --------------------------------------------------------------------------- latency


def bench_cells(runs: int) -> dict[str, Any]:
    scanner = Scanner()
    for cell in CELLS:  # warm-up: imports, regex compilation, caches
        scan_code(cell, kind="cell", scanner=scanner)
    samples: list[float] = []
    findings = [len(scan_code(cell, kind="cell", scanner=scanner)) for cell in CELLS]
    for i in range(runs):
        cell = CELLS[i % len(CELLS)]
        start = time.perf_counter()
        scan_code(cell, kind="cell", scanner=scanner)
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return {
        "runs": runs,
        "cells": len(CELLS),
        "lines_per_cell": round(statistics.mean(c.count("\n") + 1 for c in CELLS), 1),
        "findings_per_cell": findings,
        "p50_ms": samples[len(samples) // 2],
        "p99_ms": samples[min(len(samples) - 1, int(len(samples) * 0.99))],
        "max_ms": samples[-1],
    }


# --------------------------------------------------------------------------- quality


def load_labels(corpus: Path = CORPUS) -> dict[str, frozenset[str]]:
    raw = yaml.safe_load((corpus / "labels.yaml").read_text(encoding="utf-8"))
    return {str(k): frozenset(str(c) for c in v or ()) for k, v in raw.items()}


def hunter_categories(
    labels: dict[str, frozenset[str]], corpus: Path, scanner: Scanner
) -> tuple[dict[str, set[str]], dict[str, str]]:
    """Categories Hunter reports per labelled file, and the files whose scan crashed."""
    found: dict[str, set[str]] = {}
    crashed: dict[str, str] = {}
    for name in labels:
        try:
            result = scanner.scan_file(corpus / name, name=name)
        except Exception as exc:  # a crash is a finding about Hunter: report it, go on
            crashed[name] = f"{type(exc).__name__}: {str(exc)[:120]}"
            continue
        for finding in result.findings:
            category = finding.rule.category
            found.setdefault(name, set()).add(FOLD.get(category, category))
    return found, crashed


def bandit_categories(corpus: Path) -> dict[str, set[str]] | None:
    bandit = tool("bandit")
    if bandit is None:
        return None
    _, stdout, _ = timed_run([str(bandit), "-r", "-q", "-f", "json", "."], cwd=corpus)
    found: dict[str, set[str]] = {}
    for item in json.loads(stdout).get("results", []):
        category = BANDIT_CATEGORIES.get(str(item["test_id"]))
        if category is not None:
            name = Path(str(item["filename"])).as_posix().removeprefix("./")
            found.setdefault(name, set()).add(category)
    return found


def detect_secrets_categories(corpus: Path) -> dict[str, set[str]] | None:
    detect = tool("detect-secrets")
    if detect is None:
        return None
    _, stdout, _ = timed_run([str(detect), "scan", "--all-files", "."], cwd=corpus)
    results: dict[str, Any] = json.loads(stdout).get("results", {})
    return {
        Path(name).as_posix().removeprefix("./"): {"secrets"} for name, v in results.items() if v
    }


def score(
    labels: dict[str, frozenset[str]], found: dict[str, set[str]], reports: Iterable[str]
) -> dict[str, dict[str, int]]:
    """Per category TP / FP / FN, counting only categories the tool can report."""
    can_report = set(reports)
    table = {c: {"tp": 0, "fp": 0, "fn": 0} for c in sorted(CATEGORIES)}
    for name, labelled in labels.items():
        expected = labelled & can_report
        got = found.get(name, set()) & can_report
        for category in expected & got:
            table[category]["tp"] += 1
        for category in got - expected:
            table.setdefault(category, {"tp": 0, "fp": 0, "fn": 0})["fp"] += 1
        for category in expected - got:
            table[category]["fn"] += 1
    return table


def rates(cell: dict[str, int]) -> tuple[float | None, float | None]:
    tp, fp, fn = cell["tp"], cell["fp"], cell["fn"]
    recall = tp / (tp + fn) if tp + fn else None
    precision = tp / (tp + fp) if tp + fp else None
    return recall, precision


def overall_precision(table: dict[str, dict[str, int]]) -> float | None:
    tp = sum(c["tp"] for c in table.values())
    fp = sum(c["fp"] for c in table.values())
    return tp / (tp + fp) if tp + fp else None


def bench_quality() -> dict[str, Any]:
    labels = load_labels()
    scanner = Scanner()
    hunter, crashed = hunter_categories(labels, CORPUS, scanner)
    bandit = bandit_categories(CORPUS)
    detect = detect_secrets_categories(CORPUS)
    tables: dict[str, dict[str, dict[str, int]]] = {"hunter": score(labels, hunter, CATEGORIES)}
    if bandit is not None:
        tables["bandit"] = score(labels, bandit, BANDIT_COVERS)
    if detect is not None:
        tables["detect-secrets"] = score(labels, detect, {"secrets"})
    counts = {c: sum(1 for v in labels.values() if c in v) for c in sorted(CATEGORIES)}
    misses = {
        name: {"expected": sorted(expected), "hunter": sorted(hunter.get(name, set()))}
        for name, expected in sorted(labels.items())
        if set(expected) != hunter.get(name, set())
    }
    behind = []
    if bandit is not None:
        for category in sorted(BANDIT_COVERS & CATEGORIES):
            ours, theirs = (
                rates(tables["hunter"][category])[0],
                rates(tables["bandit"][category])[0],
            )
            if ours is not None and theirs is not None and ours < theirs:
                behind.append(category)
    return {
        "cases": len(labels),
        "clean": sum(1 for v in labels.values() if not v),
        "cases_per_category": counts,
        "tables": tables,
        "overall_precision": {k: overall_precision(t) for k, t in tables.items()},
        "hunter_recall_below_bandit": behind,
        "hunter_crashed": crashed,
        "hunter_mismatches": misses,
    }


# --------------------------------------------------------------------------- robustness


def robustness_inputs(tmp: Path) -> list[tuple[str, Path]]:
    cases: list[tuple[str, Path]] = []

    def add(label: str, name: str, data: bytes) -> None:
        path = tmp / name
        path.write_bytes(data)
        cases.append((label, path))

    add("binary file (.py name)", "blob.py", bytes(range(256)) * 64 + b"\0" * 4096)
    add("binary file (.bin)", "model.bin", os.urandom(1 << 20))
    line = b"The quick brown fox measured 42 samples at site 7; nothing secret here.\n"
    add("50 MB text file", "big.txt", line * (50 * (1 << 20) // len(line)))
    items = ", ".join(f'"item{i}"' if i % 2 else str(i) for i in range(10_000))
    add("10,000-element list literal", "biglist.py", f"DATA = [{items}]\n".encode())
    items = ", ".join(f'"item{i}"' if i % 2 else str(i) for i in range(40_000))
    add("40,000-element list literal", "biglist4.py", f"DATA = [{items}]\n".encode())
    add(
        "500-level nested parentheses",
        "nested_parens.py",
        b"x = " + b"(" * 500 + b"1" + b")" * 500 + b"\n",
    )
    add("500-level nested unary expression", "nested_unary.py", b"x = " + b"-" * 500 + b"1\n")
    add("500-term chained expression", "chained.py", b"x = " + b" + ".join([b"a"] * 500) + b"\n")
    add("invalid UTF-8", "latin1.py", b"# caf\xe9 \xff\xfe\nimport os\nos.system(input())\n")
    add(
        "malformed .ipynb (truncated JSON)",
        "broken.ipynb",
        b'{"cells": [{"cell_type": "code", "sour',
    )
    add("malformed .ipynb (not a notebook)", "list.ipynb", b"[1, 2, 3]\n")
    add("empty file", "empty.py", b"")
    return cases


def bench_robustness() -> list[dict[str, Any]]:
    scanner = Scanner()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="grace-bench-robust-") as tmp:
        for label, path in robustness_inputs(Path(tmp)):
            row: dict[str, Any] = {"case": label, "bytes": path.stat().st_size}
            start = time.perf_counter()
            try:
                result = scan_paths([path], scanner=scanner, jobs=1, base=path.parent)
            except Exception as exc:  # the point is to report any crash, whatever it is
                row.update(ok=False, error=f"{type(exc).__name__}: {exc}")
            else:
                row.update(
                    ok=True,
                    findings=len(result.findings),
                    notes=[n.replace(str(path.parent) + os.sep, "") for n in result.notes],
                )
            row["seconds"] = time.perf_counter() - start
            rows.append(row)
    return rows


# --------------------------------------------------------------------------- printing


def fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_speed(s: dict[str, Any]) -> None:
    print(f"Speed: standard library at {s['stdlib']}")
    print(f"  {s['files']} .py files, {s['lines']:,} lines; Hunter {s['hunter_rules']} rules")
    print(f"  (rule packs load in {s['hunter_rules_load_s'] * 1000:.0f} ms; jobs={s['jobs']})")
    rows = [
        ("Hunter cold (fresh cache)", s["hunter_cold_s"]),
        ("Hunter warm (cache populated)", s["hunter_warm_s"]),
        ("Bandit -r", s.get("bandit_s")),
        ("Hunter secrets only", s["hunter_secrets_s"]),
        ("detect-secrets scan --all-files", s.get("detect_secrets_s")),
    ]
    for name, seconds in rows:
        per = f"{s['files'] / seconds:8.0f} files/s" if seconds else ""
        print(f"  {name:34s} {fmt(seconds, 3):>9s} s  {per}")
    print(f"  {'ratio':34s} {'measured':>9s}    target")
    for key in ("cold_vs_bandit", "warm_vs_bandit", "secrets_vs_detect_secrets"):
        print(f"  {key:34s} {fmt(s.get(key), 1):>8s}x    >= {TARGETS[key]:.0f}x")
    print(
        f"  findings: Hunter {s['hunter_findings']} (notes {s['hunter_notes']}), "
        f"Bandit {s.get('bandit_findings', '-')}, secrets: Hunter {s['hunter_secret_hits']}, "
        f"detect-secrets {s.get('detect_secrets_findings', '-')}"
    )
    for note in ("bandit_note", "detect_secrets_note"):
        if s.get(note):
            print(f"  note: {s[note]}")


def print_cells(c: dict[str, Any]) -> None:
    print(
        f"Per-cell latency: {c['runs']} runs over {c['cells']} cells "
        f"(~{c['lines_per_cell']} lines; findings per cell {c['findings_per_cell']})"
    )
    print(f"  p50 {c['p50_ms']:.3f} ms (target <= {TARGETS['cell_p50_ms']:.0f} ms)")
    print(f"  p99 {c['p99_ms']:.3f} ms (target <= {TARGETS['cell_p99_ms']:.0f} ms)")
    print(f"  max {c['max_ms']:.3f} ms")


def print_quality(q: dict[str, Any]) -> None:
    tools = list(q["tables"])
    print(f"Quality: {q['cases']} labelled cases ({q['clean']} clean look-alikes)")
    head = f"  {'category':18s} {'n':>3s}"
    for name in tools:
        head += f" | {name[:14]:>14s} R    P  "
    print(head)
    for category, n in q["cases_per_category"].items():
        row = f"  {category:18s} {n:3d}"
        for name in tools:
            recall, precision = rates(q["tables"][name][category])
            row += f" | {'':>9s}{fmt(recall):>5s} {fmt(precision):>4s}"
        print(row)
    overall = "  ".join(f"{k} {fmt(v)}" for k, v in q["overall_precision"].items())
    print(f"  overall precision: {overall}  (target Hunter >= {TARGETS['precision']})")
    behind = q["hunter_recall_below_bandit"]
    print(f"  categories where Hunter's recall is below Bandit's: {', '.join(behind) or 'none'}")
    for name, error in q["hunter_crashed"].items():
        print(f"  Hunter CRASHED on {name}: {error}")
    if q["hunter_mismatches"]:
        print("  Hunter mismatches (expected -> reported):")
        for name, m in q["hunter_mismatches"].items():
            print(f"    {name}: {m['expected']} -> {m['hunter']}")


def print_robustness(rows: list[dict[str, Any]]) -> None:
    print("Robustness (each scanned or skipped with a note, none may crash):")
    for row in rows:
        status = "ok" if row["ok"] else "CRASH " + row["error"]
        notes = "; ".join(row.get("notes", [])) or "-"
        extra = f", {row['findings']} finding(s)" if row["ok"] else ""
        print(f"  {row['case']:36s} {row['seconds']:7.3f} s  {status}{extra}; {notes}")
    seconds = {row["case"].split("-", 1)[0]: row["seconds"] for row in rows}
    small, large = seconds.get("10,000"), seconds.get("40,000")
    if small is not None:
        print(f"  list literal: {small:.3f} s (target < {TARGETS['list_literal_s']:.0f} s)")
    if small and large is not None:
        print(f"  4x the elements took {large / small:.1f}x the time (linear would be ~4x)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes")
    parser.add_argument("--cell-runs", type=int, default=1000)
    parser.add_argument("--skip-speed", action="store_true", help="skip the stdlib comparison")
    parser.add_argument("--skip-robustness", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    report: dict[str, Any] = {"python": sys.version.split()[0], "targets": TARGETS}
    sections: list[tuple[str, Callable[[], Any]]] = []
    if not args.skip_speed:
        sections.append(("speed", lambda: bench_speed(max(1, args.jobs))))
    sections.append(("cells", lambda: bench_cells(args.cell_runs)))
    sections.append(("quality", bench_quality))
    if not args.skip_robustness:
        sections.append(("robustness", bench_robustness))
    for key, run in sections:
        try:
            report[key] = run()
        except Exception as exc:  # one broken section must not hide the others' figures
            report.setdefault("errors", {})[key] = f"{type(exc).__name__}: {str(exc)[:300]}"

    if args.json:
        print(json.dumps(report, indent=2))
        return
    printers: dict[str, Callable[[Any], None]] = {
        "speed": print_speed,
        "cells": print_cells,
        "quality": print_quality,
        "robustness": print_robustness,
    }
    for key, printer in printers.items():
        if key in report:
            printer(report[key])
            print()
    for key, error in report.get("errors", {}).items():
        print(f"{key}: CRASHED ({error})")


if __name__ == "__main__":
    main()
