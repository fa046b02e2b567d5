#!/usr/bin/env python3
"""Replace (or append) one `## TITLE` section of docs/benchmarks.md with stdin."""
import pathlib
import sys

title, path = sys.argv[1], pathlib.Path(sys.argv[2])
body = sys.stdin.read().strip() + "\n"
intro = (
    "# Benchmarks\n\n"
    "Produced by `make bench` on this project's reference machine (2 cores, 24 GiB, Debian 12). "
    "Each section says the exact command behind it; rerun it to refresh the numbers.\n"
)
text = path.read_text() if path.exists() else intro
head = f"## {title}\n"
lines = text.splitlines(keepends=True)
out, skipping, replaced = [], False, False
for line in lines:
    if line == head:
        skipping, replaced = True, True
        out.append(head + "\n" + body + "\n")
        continue
    if skipping and line.startswith("## "):
        skipping = False
    if not skipping:
        out.append(line)
if not replaced:
    if not text.endswith("\n\n"):
        out.append("\n")
    out.append(head + "\n" + body)
path.write_text("".join(out))
