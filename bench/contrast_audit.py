"""Audit contrast runs without a model: mirror images, task objects, problem notes, generalities.

Each argument is a contrast work directory (constraints.jsonl + contrast-log.jsonl) or a
constraints file; `NAME=PATH` names its row. Rates are over what the summarizer proposed and over
what was accepted, each rule counted on its own (build/audit.py). Issue 9's before/after:

    .venv/bin/python bench/contrast_audit.py before:cross=banks/pilot/collab-cross.work \
        before:same=banks/pilot/collab-same.work after:cross=runs/contrast-v2/cross after:same=runs/contrast-v2/same

Rows whose names share a prefix before ":" are also summed into one row per prefix. A rerun that
has not finished is compared on its own pairs with `--only-pairs-in RERUN_WORKDIR`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from memcollab_cli.build.audit import audit_workdir, logged_pairs, markdown, merged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="[NAME=]WORKDIR")
    parser.add_argument("--json", action="store_true", help="JSON instead of a Markdown table")
    parser.add_argument("--only-pairs-in", type=Path, metavar="WORKDIR",
                        help="audit only the pairs this run's contrast log holds (a partial rerun)")
    args = parser.parse_args()
    only = logged_pairs(args.only_pairs_in) if args.only_pairs_in else None
    audits = []
    for spec in args.runs:
        name, _, path = spec.rpartition("=")
        audits.append(audit_workdir(Path(path), name or path, only))
    groups: dict[str, list] = {}
    for a in audits:
        if ":" in a.name:
            groups.setdefault(a.name.split(":")[0], []).append(a)
    audits += [merged(f"{prefix}: all", members) for prefix, members in groups.items() if len(members) > 1]
    if args.json:
        print(json.dumps([a.to_dict() for a in audits], indent=1))
    else:
        print(markdown(audits))


if __name__ == "__main__":
    main()
