"""Requirement lists read from pyproject.toml, so that CI never repeats a version by hand.

    python tools/requirements.py build      the build requirements ([build-system] requires)
    python tools/requirements.py floor      each lower bound of the runtime and test
                                            requirements pinned exactly (numpy>=2.0 -> numpy==2.0)
    python tools/requirements.py versions   the installed version of every requirement named
                                            anywhere in pyproject.toml, and of Python and torch

.ci/run installs ``build`` before the sanitizer build, tests a venv holding ``floor``, and
prints ``versions`` for each environment it tests.
"""
import platform
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
# "name>=1.2" and "name[extra]>=1.2,<3" alike: the name, then the lower bound if any.
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?\s*(?:.*?>=\s*([0-9][^,;\s]*))?")


def _config():
    with open(PYPROJECT, "rb") as fh:
        return tomllib.load(fh)


def _parse(requirement):
    name, floor = _REQUIREMENT.match(requirement).groups()
    return name, floor


def build():
    return list(_config()["build-system"]["requires"])


def floor():
    project = _config()["project"]
    pins = []
    for requirement in project["dependencies"] + project["optional-dependencies"]["test"]:
        name, low = _parse(requirement)
        if low is not None:
            pins.append(f"{name}=={low}")
    return pins


def versions():
    config = _config()
    names = [_parse(r)[0] for r in config["build-system"]["requires"] + config["project"]["dependencies"]]
    for extra in config["project"]["optional-dependencies"].values():
        names += [_parse(r)[0] for r in extra]
    names.append("torch")       # the comparison tests' reference (.ci/run installs it)
    lines = [f"python {platform.python_version()}"]
    for name in dict.fromkeys(n.lower() for n in names):
        try:
            lines.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            lines.append(f"{name} (not installed)")
    return lines


def main(argv):
    commands = {"build": build, "floor": floor, "versions": versions}
    if len(argv) != 1 or argv[0] not in commands:
        print(__doc__, file=sys.stderr)
        return 2
    print("\n".join(commands[argv[0]]()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
