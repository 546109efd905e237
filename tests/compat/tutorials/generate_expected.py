"""Write expected.json: what each tutorial program prints under PyTorch, for the runs where
torch is not installed.

    python tests/compat/tutorials/generate_expected.py

Runs worker.py with real torch (so with the same shared random draws as the test) on every
program present in programs/, and records the torch version and each program's commit.
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import programs

HERE = Path(__file__).parent


def main():
    names = [n for n in programs.PROGRAMS if (HERE / "programs" / f"{n}.py").exists()]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "torch.json"
        subprocess.run([sys.executable, str(HERE / "worker.py"), "torch",
                        str(HERE / "programs"), str(out), *names], check=True)
        run = json.loads(out.read_text())
    expected = {"version": run["version"], "programs": {
        name: {"commit": programs.PROGRAMS[name][1], "stdout": result["stdout"],
               "error": result["error"]}
        for name, result in run["programs"].items()}}
    (HERE / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")


if __name__ == "__main__":
    main()
