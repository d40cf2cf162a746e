"""The package's version, for pyproject.toml and the reports: apart from ``__init__``, which
also holds the IPython extension hooks (a front end)."""

__version__ = "0.1.0"
