"""Emulator of the MediaMath Reporting API v2 (``/mediamath/reporting/v2/<dataset>``) and of the
``auth.mediamath.com`` password grant that yields its JWTs.

Modules: :mod:`.catalog` (datasets and fields from the vendor spec), :mod:`.windows` (time
windows, rollups), :mod:`.query` (request validation, filters, order), :mod:`.entities` (what
delivers, from the MediaMath v2.0 emulator's data), :mod:`.metrics` (synthetic deterministic
delivery), :mod:`.rows` (lazy result rows), :mod:`.auth` (bearer tokens, ``AuthEmulator``),
:mod:`.app` (``ReportingEmulator``: routes, answers, control hooks).
"""
