"""Backups page (not built yet)."""

from pages._common import coming_soon

coming_soon("Backups", "list, verify, restore and cloud copies of verified backups.")
