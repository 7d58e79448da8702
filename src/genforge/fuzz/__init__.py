"""Fuzzing every input a user can point genforge at: generated files, configs and run directories.

    python -m genforge.fuzz [--cases 1000] [--only image-folder,idx,...,server] [--seed 0]

Each target draws cases with hypothesis (valid inputs, damaged ones and hostile ones), writes them to a
scratch folder and runs the command a user would (`genforge data inspect`, `sample`, `report`, `train
--resume`, or the config resolver the CLI calls). Every case must end in one of three ways: loaded, a
named skip (the loader listed the bad file with its reason and went on), or a clear error: a genforge error
of one paragraph that names the file, key or value. Anything else (another exception, a traceback, a case
that runs past the time limit) is a failure, listed with the case that caused it. The `server` target is
schemathesis against `genforge serve` (fuzz/server.py; cases/10 per operation and generation mode). Prints a
JSON summary per target; exits 1 on any failure. Needs the `fuzz` extra (hypothesis, schemathesis), which the
`test` extra includes; `campaign.py` holds the campaign.
"""

REQUIRES = ("hypothesis", "schemathesis")  # the `fuzz` extra
