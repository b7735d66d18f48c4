"""Print the requirements of pyproject.toml's base dependencies plus the given extras, one a line.

The images install their dependencies in a layer of their own, before the source, from this list
(``python3 docker/requirements.py cpu cjk > requirements.txt``) and docker/constraints.txt.
Standard library only: it runs on the bare base image.
"""

import sys
import tomllib

with open("pyproject.toml", "rb") as file:
    project = tomllib.load(file)["project"]
requirements = list(project["dependencies"])
for extra in sys.argv[1:]:
    requirements += project["optional-dependencies"][extra]
print("\n".join(requirements))
