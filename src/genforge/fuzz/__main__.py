import argparse
import importlib.util
import json
import sys

from . import REQUIRES
from . import __doc__ as doc

if missing := [m for m in REQUIRES if importlib.util.find_spec(m) is None]:
    sys.exit(f"error: the fuzz campaigns need {', '.join(missing)}: pip install 'genforge[fuzz]'")

from .campaign import campaign, targets  # noqa: E402  (after the check: it imports hypothesis)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--cases", type=int, default=1000, help="generated cases per target")
    ap.add_argument("--only", default="", help=f"comma-separated targets: {', '.join(targets())}")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    only = tuple(t for t in args.only.split(",") if t)
    res = campaign(args.cases, only, args.seed, log=lambda s: print(s, file=sys.stderr, flush=True))
    print(json.dumps(res, indent=2))
    sys.exit(1 if any(r["failures"] for r in res.values()) else 0)


main()
