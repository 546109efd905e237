"""``python -m autogradx.distributed.run -n 2 script.py [args...]``: start a script on N
ranks without knowing MPI.

It runs ``mpiexec -n N <this python> script.py args...`` (``-m module`` runs a module
instead), with the ``mpiexec`` beside this interpreter (the ``mpich`` wheel's) or on PATH,
and exits with its status. ``--nproc-per-node`` is accepted for ``torchrun``'s habit.
Arguments after ``--mpiexec-args`` up to the script go to ``mpiexec`` itself.
"""

import argparse
import os
import subprocess
import sys

from autogradx.distributed.backend import find_mpiexec

__all__ = ["command", "main"]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m autogradx.distributed.run",
        description="Run a training script on N ranks through mpiexec.")
    parser.add_argument("-n", "--nproc-per-node", "--nproc_per_node", dest="n", type=int,
                        default=1, help="how many ranks (processes) to start (default 1)")
    parser.add_argument("--mpiexec-args", default="",
                        help="extra arguments for mpiexec, as one string")
    parser.add_argument("-m", dest="module", action="store_true",
                        help="run the target as a module (python -m target)")
    parser.add_argument("target", help="the script (or, with -m, the module) to run")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the script's arguments")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error(f"-n must be at least 1, got {args.n}")
    return args


def command(args, mpiexec):
    """The mpiexec command line for parsed ``args``."""
    program = [sys.executable] + (["-m", args.target] if args.module else [args.target])
    return [mpiexec, "-n", str(args.n)] + args.mpiexec_args.split() + program + args.args


def main(argv=None):
    args = parse_args(argv)
    mpiexec = find_mpiexec()
    if mpiexec is None:
        sys.exit("autogradx.distributed.run: no mpiexec beside this Python or on PATH; "
                 "install one with: pip install 'autogradx[distributed]'")
    if not args.module and not os.path.exists(args.target):
        sys.exit(f"autogradx.distributed.run: no such script: {args.target}")
    return subprocess.call(command(args, mpiexec))


if __name__ == "__main__":
    sys.exit(main())
