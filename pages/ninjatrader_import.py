"""NinjaTrader import page (not built yet)."""

from pages._common import coming_soon

coming_soon("NinjaTrader import", "drag-and-drop NinjaTrader 8 exports, verify alignment, dry-run plan, backed-up merge.")
