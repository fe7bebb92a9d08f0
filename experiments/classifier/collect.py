"""Rebuilds a study's summary and figures from the run folders already in it.

    python -m experiments.classifier.collect results/classifier/manifolds

Runs trained into one ``--out`` by separate processes (in parallel, or over
several sessions) are summarised together: every ``*/metrics.json`` below the
folder is one run.
"""

import argparse
import json
from pathlib import Path

from . import figures, report


def load_runs(folder: Path) -> list[dict]:
    """Every run record (``<run>/metrics.json``) in ``folder``, in name order."""
    paths = sorted(folder.glob("*/metrics.json"))
    if not paths:
        raise SystemExit(f"{folder}: no run folders (<run>/metrics.json) to collect")
    return [json.loads(p.read_text()) for p in paths]


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", type=Path, help="the study's --out folder")
    folder = p.parse_args(argv).folder
    records = load_runs(folder)
    rows = report.summarise(records)
    report.print_summary(rows)
    report.write_summary(folder, rows)
    paths = figures.plot_all(folder, records)
    print(f"wrote {folder}/summary.json, summary.csv, " + ", ".join(p.name for p in paths))
    return rows


if __name__ == "__main__":
    main()
