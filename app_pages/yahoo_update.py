"""Yahoo update page (not built yet)."""

from app_pages._common import coming_soon

coming_soon("Yahoo update", "validated Yahoo Finance updates with quarantine (auto-update is suspended by default).")
