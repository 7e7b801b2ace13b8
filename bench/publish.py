#!/usr/bin/env python3
"""bench/publish.py — publish the latest `make bench` results: copy bench/results/latest.{md,json} and
efficiency.png into docs/bench/ and replace the README's "### Latest results" section (up to the next "## "
heading or the end) with the table. Run from the top of the tree: `python3 bench/publish.py` (`make
bench-publish`). Refuses results of `make bench-quick` (reduced sizes, one run) unless --quick is given."""
import argparse
import os
import shutil
import sys

ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
ap.add_argument("--results", default="bench/results")
ap.add_argument("--quick", action="store_true", help="allow publishing bench-quick results")
a = ap.parse_args()

md_path = os.path.join(a.results, "latest.md")
md = open(md_path).read()
lines = md.splitlines()
if not a.quick and "--quick" in "\n".join(lines[:4]):
    sys.exit("publish: %s is from make bench-quick (reduced sizes); run make bench, or pass --quick" % md_path)
body = []
for line in lines[1:]:
    if line.startswith("### "):
        line = "#### " + line[4:]
    if line.startswith(("skipped:", "notes:", "elapsed:")):
        continue
    body.append(line)
block = ("### Latest results\n\n" + "\n".join(body).strip() +
         "\n\n![Efficiency against task grain, stencil_1d of width 4, every runtime](docs/bench/efficiency.png)\n\n"
         "The tables and the plot are copied from `bench/results/` into `docs/bench/` (`latest.md`, "
         "`latest.json`, `efficiency.png`) by `make bench-publish`.\n")
readme = open("README.md").read()
i = readme.index("### Latest results")
j = readme.find("\n## ", i)
readme = readme[:i] + block + ("" if j < 0 else readme[j:])
os.makedirs("docs/bench", exist_ok=True)
for f in ("latest.md", "latest.json", "efficiency.png"):
    shutil.copy(os.path.join(a.results, f), os.path.join("docs/bench", f))
open("README.md", "w").write(readme)
print("publish: README.md and docs/bench/ updated from " + md_path)
