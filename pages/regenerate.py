"""Regenerate page (not built yet)."""

from pages._common import coming_soon

coming_soon("Regenerate", "upsampling, HOD/LOD, session profiler, level touches and web chunks with progress.")
