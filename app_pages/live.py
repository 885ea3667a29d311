"""Live page (not built yet)."""

from app_pages._common import coming_soon

coming_soon("Live", "live price feed running in a subprocess.")
