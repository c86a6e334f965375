#!/usr/bin/env python3
"""check-scripts.py - static checks of the scripts a customer runs, and ours.

Usage: scripts/check-scripts.py [--help]

  - every scripts/*.ps1 must parse: tree-sitter's PowerShell grammar (PyPI
    tree-sitter and tree-sitter-powershell) reads it, and every ERROR or
    MISSING node is reported as file:line:column; and it must be ASCII
    (Windows PowerShell 5.1 reads a file without a byte-order mark in the
    ANSI code page, so any other character would change);
  - every scripts/*.service must pass `systemd-analyze verify`;
  - every scripts/*.sh must pass `bash -n` and `shellcheck --severity=warning`.

Exits 1 listing every problem, 0 when there is none. scripts/test.sh
installs the tools (Debian: shellcheck, systemd; PyPI: the pinned tree-sitter
packages, in its virtual environment) and runs this first.
"""

import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

SCRIPTS = pathlib.Path(__file__).resolve().parent


def powershell_problems(paths):
    """file:line:column of every ERROR and MISSING node, per script."""
    try:
        import tree_sitter
        import tree_sitter_powershell
    except ImportError as error:
        return [f"cannot parse PowerShell: {error} (pip install tree-sitter tree-sitter-powershell; scripts/test.sh does)"]
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
    problems = []
    for path in paths:
        source = path.read_bytes()
        for number, line in enumerate(source.split(b"\n"), start=1):
            column = next((i for i, byte in enumerate(line) if byte > 0x7F), None)
            if column is not None:
                problems.append(f"{path.relative_to(SCRIPTS.parent)}:{number}:{column + 1}: not ASCII")
        tree = parser.parse(source)
        stack = [tree.root_node]
        while stack:
            node = stack.pop()
            if node.is_missing:
                problems.append(f"{where(path, node)}: missing {node.type!r}")
            elif node.is_error:
                text = node.text.decode("utf-8", "replace").strip().split("\n", 1)[0][:60]
                problems.append(f"{where(path, node)}: syntax error" + (f" at {text!r}" if text else ""))
            if node.has_error:
                stack.extend(reversed(node.children))
    return problems


def where(path, node):
    """path:line:column, both counted from 1 (tree-sitter counts from 0, columns in bytes)."""
    row, column = node.start_point
    return f"{path.relative_to(SCRIPTS.parent)}:{row + 1}:{column + 1}"


def unit_problems(paths):
    """systemd-analyze verify of each unit. verify also checks that
    ExecStart's binary exists and is executable, and the agent is not
    installed here, so it reads a copy whose ExecStart binary is /bin/true
    (same arguments, same everything else)."""
    if not shutil.which("systemd-analyze"):
        return ["cannot verify units: systemd-analyze is not installed (Debian package systemd)"]
    problems = []
    for path in paths:
        with tempfile.TemporaryDirectory() as scratch:
            # The copy keeps the unit's file name: verify derives the unit's name from it.
            copy = pathlib.Path(scratch) / path.name
            text = re.sub(r"^(ExecStart=[-+!@:]*)\S+", r"\1/bin/true", path.read_text(), flags=re.MULTILINE)
            copy.write_text(text)
            run = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True, text=True)
            # Warnings (unknown keys, bad values) leave the exit status 0, so
            # any line about this unit counts; lines about units of the host
            # (dependencies verify loads too) do not.
            lines = [line for line in (run.stdout + run.stderr).splitlines() if path.name in line]
            if run.returncode != 0 and not lines:
                lines = (run.stdout + run.stderr).splitlines() or [f"exit status {run.returncode}"]
            problems += [f"{path.relative_to(SCRIPTS.parent)}: {line.replace(str(copy), path.name)}" for line in lines]
    return problems


def shell_problems(paths):
    """bash -n, then shellcheck (warnings and errors; notes and style are the author's call)."""
    problems = []
    names = [str(path.relative_to(SCRIPTS.parent)) for path in paths]
    for name in names:
        run = subprocess.run(["bash", "-n", name], capture_output=True, text=True, cwd=SCRIPTS.parent)
        problems += [line for line in run.stderr.splitlines() if line]
    if not shutil.which("shellcheck"):
        return problems + ["cannot check shell scripts: shellcheck is not installed (Debian package shellcheck)"]
    run = subprocess.run(["shellcheck", "--severity=warning", "--format=gcc", *names], capture_output=True, text=True, cwd=SCRIPTS.parent)
    problems += [line for line in run.stdout.splitlines() if line]
    if run.returncode != 0 and not run.stdout.strip():
        problems.append(f"shellcheck failed: {run.stderr.strip()}")
    return problems


def main():
    if len(sys.argv) > 1:
        print(__doc__.strip())
        return 0 if sys.argv[1] in ("-h", "--help") else 2
    powershell = sorted(SCRIPTS.glob("*.ps1"))
    units = sorted(SCRIPTS.glob("*.service"))
    shell = sorted(SCRIPTS.glob("*.sh"))
    problems = powershell_problems(powershell) + unit_problems(units) + shell_problems(shell)
    for problem in problems:
        print(problem, file=sys.stderr)
    checked = len(powershell) + len(units) + len(shell)
    if problems:
        print(f"check-scripts.py: {len(problems)} problem(s) in {checked} scripts", file=sys.stderr)
        return 1
    print(f"check-scripts.py: {len(powershell)} PowerShell, {len(units)} systemd, {len(shell)} shell scripts: ok", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
