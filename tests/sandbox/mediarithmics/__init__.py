"""mediarithmics emulator tests."""
