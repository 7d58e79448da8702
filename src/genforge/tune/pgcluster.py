"""A throwaway PostgreSQL cluster on 127.0.0.1 for many tuning workers on one machine (and for the tests).

    python -m genforge.tune.pgcluster start [--dir /tmp/genforge-pg] [--port 55432]   # prints the storage URL
    python -m genforge.tune.pgcluster stop [--dir /tmp/genforge-pg]

It runs the postgresql server binaries of the machine (Debian: `apt-get install postgresql`) as a
non-root user (the `postgres` system user when started as root), trusts local connections of the user
`genforge` and listens on 127.0.0.1 only. For a study shared by several machines use a real server.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
from pathlib import Path
from typing import Optional

from ..errors import ConfigError

USER = DATABASE = "genforge"


def bindir() -> Optional[Path]:
    """The folder of initdb / pg_ctl: pg_config's, Debian's newest /usr/lib/postgresql/N/bin, or the PATH's."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _as_owner(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run as the `postgres` user then."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def url(port: int) -> str:
    return f"postgresql+psycopg://{USER}@127.0.0.1:{port}/{DATABASE}"


def start(folder: str | Path, port: int = 55432) -> str:
    """Create (first time) and start the cluster in `folder`; the storage URL of its database. Run as root,
    `folder` must be reachable by the `postgres` user (not under a private folder such as pytest's)."""
    bins, folder = bindir(), Path(folder)
    if bins is None:
        raise ConfigError("no PostgreSQL server binaries (initdb, pg_ctl): apt-get install postgresql")
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")

    def run(*cmd: str) -> None:
        done = subprocess.run(_as_owner([str(bins / cmd[0]), *cmd[1:]]), capture_output=True, text=True)
        if done.returncode:
            raise ConfigError(f"{cmd[0]} failed for the cluster in {folder}: {(done.stderr or done.stdout).strip()}")

    if not (folder / "PG_VERSION").exists():
        run("initdb", "-D", str(folder), "-U", USER, "-A", "trust", "--no-sync")
    options = f"-p {port} -c listen_addresses=127.0.0.1 -k {folder} -c fsync=off"  # throwaway: speed over durability
    run("pg_ctl", "-D", str(folder), "-o", options, "-l", str(folder / "server.log"), "-w", "start")
    made = subprocess.run(
        _as_owner([str(bins / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", USER, DATABASE]),
        capture_output=True,
        text=True,
    )
    if made.returncode and "already exists" not in made.stderr:
        raise ConfigError(f"createdb failed: {made.stderr.strip()}")
    return url(port)


def stop(folder: str | Path) -> None:
    bins = bindir()
    if bins is not None and (Path(folder) / "postmaster.pid").exists():
        subprocess.run(_as_owner([str(bins / "pg_ctl"), "-D", str(folder), "-m", "fast", "-w", "stop"]), check=True)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("action", choices=("start", "stop"))
    ap.add_argument("--dir", default="/tmp/genforge-pg")
    ap.add_argument("--port", type=int, default=55432)
    args = ap.parse_args(argv)
    if args.action == "start":
        print(start(args.dir, args.port))
    else:
        stop(args.dir)


if __name__ == "__main__":
    main()
