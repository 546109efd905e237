"""The compatibility suite's bookkeeping: every method of a ported share is ported or listed
as not ported, never both; every listed difference is a ported method; and the generated page
docs/compatibility.md is what count.py makes of the modules today."""

import pathlib

import pytest

from compat import count

DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs" / "compatibility.md"
MODULES = list(count.ported_modules())


@pytest.mark.parametrize("name, module", MODULES, ids=[name for name, _ in MODULES])
def test_each_method_is_ported_or_listed_once(name, module):
    ported = set(count.methods(module))
    not_ported = set(getattr(module, "NOT_PORTED", {}))
    assert not ported & not_ported, f"both ported and not ported: {sorted(ported & not_ported)}"
    unknown = set(getattr(module, "DIFFERENCES", {})) - ported
    assert not unknown, f"DIFFERENCES names methods that are not ported: {sorted(unknown)}"
    assert count.SOURCE.search(module.__doc__ or ""), "the docstring names no source commit"


def test_docs_page_is_generated_from_the_modules():
    # Regenerate with: python tests/compat/count.py --markdown > docs/compatibility.md
    assert DOCS.read_text() == count.markdown(count.counts())
