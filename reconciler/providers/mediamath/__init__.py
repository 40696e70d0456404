"""The ``mediamath`` provider: MediaMath Execution & Management API v2.0 (our own client).

Modules: :mod:`.kinds` (kinds and field wire types), :mod:`.wire` (XML/JSON parsing),
:mod:`.normalize` (wire <-> manifest values), :mod:`.client` (auth, session, HTTP),
:mod:`.provider` (:class:`MediaMathProvider`, the engine's verbs).
"""

from __future__ import annotations

from reconciler.providers.mediamath.provider import MediaMathProvider

__all__ = ["MediaMathProvider"]
