"""Local emulator of the mediarithmics clean-room API (documented reads plus sandbox-defined writes).

See :mod:`reconciler.sandbox.mediarithmics.app` for what is emulated and what is invented.
"""
