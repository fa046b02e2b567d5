#!/usr/bin/env python3
"""The closing summary of `make test`: every test binary that ran, how many of
its tests passed and failed and how long it took, and the name of each failed
test, read from the output of `cargo test --no-fail-fast`.

A binary that ran but printed no result line (it crashed, or was killed) is
reported as such: it is a failure even though no test name says so.

Usage: test_summary.py LOG [CARGO_STATUS]
"""

import re
import sys

RUNNING = re.compile(r"^\s+(Running|Doc-tests)\s+(.*?)(?:\s+\(([^)]*)\))?$")
RESULT = re.compile(
    r"^test result: (ok|FAILED)\. (\d+) passed; (\d+) failed; (\d+) ignored; "
    r"\d+ measured; \d+ filtered out; finished in ([\d.]+)s"
)
FAILED_TEST = re.compile(r"^test (\S+) \.\.\. FAILED$")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def crate_of(path):
    """`target/debug/deps/evergreen_core-1a2b…` -> `evergreen_core`."""
    return path.rsplit("/", 1)[-1].rsplit("-", 1)[0] if path else "?"


def main():
    if len(sys.argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    status = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    binaries = []  # [name, passed, failed, ignored, seconds or None, failed names]
    current = None
    # Cargo runs a package's targets together, its unit tests first: the
    # crate they name is the package of the integration tests after them.
    package = "?"
    with open(sys.argv[1], encoding="utf-8", errors="replace") as log:
        for raw in log:
            line = ANSI.sub("", raw.rstrip("\n"))
            m = RUNNING.match(line)
            if m:
                kind, what, path = m.groups()
                if kind == "Doc-tests":
                    name = f"{what} doc-tests"
                elif what.startswith("unittests "):
                    if what.endswith("src/lib.rs") or package == "?":
                        package = crate_of(path)
                    name = f"{crate_of(path)} {what.split(' ', 1)[1]}"
                elif package == "?":
                    name = what
                else:
                    name = f"{package} {what}"
                current = [name, 0, 0, 0, None, []]
                binaries.append(current)
                continue
            if current is None:
                continue
            m = FAILED_TEST.match(line)
            if m and m.group(1) not in current[5]:
                current[5].append(m.group(1))
                continue
            m = RESULT.match(line)
            if m:
                current[1:5] = [int(m.group(2)), int(m.group(3)), int(m.group(4)), float(m.group(5))]

    width = max((len(b[0]) for b in binaries), default=10)
    print()
    print("Test binaries:")
    crashed = []
    for name, passed, failed, ignored, secs, names in binaries:
        if secs is None:
            crashed.append(name)
            print(f"  {name:<{width}}  ended without a result (crashed or killed)")
            continue
        mark = "FAILED" if failed else "ok"
        extra = f", {ignored} skipped" if ignored else ""
        print(f"  {name:<{width}}  {mark:<6} {passed:>4} passed, {failed} failed{extra}  ({secs:.1f} s)")
    failed_names = [(b[0], n) for b in binaries for n in b[5]]
    if failed_names or crashed:
        print("Failed:")
        for binary, test in failed_names:
            print(f"  {binary}: {test}")
        for binary in crashed:
            print(f"  {binary}: the binary itself")
    total_passed = sum(b[1] for b in binaries)
    total_failed = sum(b[2] for b in binaries) + len(crashed)
    total_ignored = sum(b[3] for b in binaries)
    if status != 0 and total_failed == 0:
        # cargo failed before or between binaries (a build error): say so.
        print(f"cargo test exited with status {status} before every binary ran")
        total_failed = 1
    print(f"{len(binaries)} test binaries ran")
    print(f"summary: {total_passed} passed, {total_failed} failed, {total_ignored} skipped")
    return 1 if total_failed else 0


if __name__ == "__main__":
    sys.exit(main())
