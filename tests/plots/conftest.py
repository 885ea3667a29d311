"""The plots tests reuse the Yahoo tests' seeded folder."""

from tests.ingest.conftest import seeded  # noqa: F401  (a fixture, found by pytest by name)
