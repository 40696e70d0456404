"""The ``mediarithmics`` provider: mediarithmics data clean rooms (kind ``CleanRoom``).

Observe-only by default (mediarithmics documents only clean-room reads); with ``writes: enabled``
in the workspace's provider block it writes through the sandbox-defined extension endpoints.
"""
