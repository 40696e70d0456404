"""The ``liveramp`` provider (LiveRamp Clean Room API, formerly Habu): see ``provider``."""
