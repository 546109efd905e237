"""Download the tutorial programs named in programs.py into programs/ (git-ignored).

    python tests/compat/tutorials/fetch.py [--force]

Each file is PyTorch's text at the recorded commit, unchanged apart from a header comment
naming its source, commit and license. Files already present are kept unless --force.
"""

import sys
import urllib.request
from pathlib import Path

import programs

URL = "https://raw.githubusercontent.com/{repository}/{commit}/{path}"


def main(argv):
    force = "--force" in argv
    target = Path(__file__).parent / "programs"
    target.mkdir(exist_ok=True)
    for name, (path, commit) in programs.PROGRAMS.items():
        out = target / f"{name}.py"
        if out.exists() and not force:
            continue
        url = URL.format(repository=programs.REPOSITORY, commit=commit, path=path)
        with urllib.request.urlopen(url, timeout=60) as response:
            text = response.read().decode("utf-8")
        out.write_text(programs.header(name) + text)
        print(f"{name}: {url}")


if __name__ == "__main__":
    main(sys.argv[1:])
