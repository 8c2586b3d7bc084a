"""What to run to install an optional part: the packages of an extra, named from the installed distribution's
own metadata, so the hint works wherever codeindex was installed from (a clone, a wheel, an index).

The distribution is ``codeindex-claims``; it is not on PyPI, so ``pip install 'codeindex-claims[report]'``
would install nothing for most users.  Naming the extra's packages always works:

>>> install_hint("report")
"pip install 'matplotlib>=3.8' 'xlsxwriter>=3.1'"
"""

from __future__ import annotations

import importlib.metadata
import re
import shlex

DISTRIBUTION = "codeindex-claims"
# The extras as pyproject.toml declares them, for a tree run without being installed (no metadata).
_DECLARED = {"report": ["matplotlib>=3.8", "xlsxwriter>=3.1"], "spark": ["pyspark>=3.5", "pyarrow>=14", "pandas>=2.2"]}


def extra_packages(extra: str) -> list[str]:
    """The requirements of one extra of the installed distribution, as declared."""
    try:
        requires = importlib.metadata.requires(DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        return list(_DECLARED.get(extra, []))
    marker = re.compile(rf"""extra\s*==\s*["']{re.escape(extra)}["']""")
    return [r.split(";")[0].strip() for r in requires if ";" in r and marker.search(r.split(";", 1)[1])]


def install_hint(extra: str) -> str:
    """The command that installs an extra's packages into the environment codeindex runs in."""
    return "pip install " + " ".join(shlex.quote(p) for p in extra_packages(extra))
