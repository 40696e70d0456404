"""mediarithmics provider tests."""
