"""Print pyproject.toml's runtime dependencies, one a line, for ``pip install -r``.

The image installs them in a layer of their own, before the source is copied,
so a change to the code does not reinstall them.
"""

import sys
import tomllib

with open(sys.argv[1] if len(sys.argv) > 1 else "pyproject.toml", "rb") as file:
    print("\n".join(tomllib.load(file)["project"]["dependencies"]))
