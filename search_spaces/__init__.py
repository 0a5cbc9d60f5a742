"""What may vary, as data: search spaces (spaces.py, families.py) and named ablations."""

from search_spaces import families  # noqa: F401  (registers the architecture-family space)
