"""How fast the command line answers: `python -m genforge.bench.cli [--repeats 5]`.

Times `genforge --help` and `genforge --version` as fresh processes, beside two references measured in the same
run: a bare interpreter (`python -c pass`) and one that imports typer (the floor of any typer command line).
Prints min / median / max seconds and the median's ratio to the typer floor; `--help` imports no torch.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def timed(argv: list[str], repeats: int) -> list[float]:
    """Wall-clock seconds of `repeats` runs of a fresh process (after one warm-up run that fills file caches)."""
    subprocess.run(argv, capture_output=True, check=True)
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        out.append(time.perf_counter() - t0)
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    py = sys.executable
    rows = {
        "python -c pass (reference)": [py, "-c", "pass"],
        "python -c 'import typer' (typer floor)": [py, "-c", "import typer"],
        "genforge --help": [py, "-m", "genforge", "--help"],
        "genforge --version": [py, "-m", "genforge", "--version"],
    }
    times = {name: timed(cmd, args.repeats) for name, cmd in rows.items()}
    floor = statistics.median(times["python -c 'import typer' (typer floor)"])
    print(f"| command | seconds min / median / max ({args.repeats} runs) | median / typer floor |\n|---|---|---|")
    for name, t in times.items():
        med = statistics.median(t)
        print(f"| `{name}` | {min(t):.3f} / {med:.3f} / {max(t):.3f} | {med / floor:.2f} |")


if __name__ == "__main__":
    main()
