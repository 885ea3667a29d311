"""Health page (not built yet)."""

from pages._common import coming_soon

coming_soon("Health", "calendar-true gaps, coverage heatmap, staleness and integrity checks.")
