"""End-to-end tests: the example workspaces through the real CLI against a sandbox on 127.0.0.1."""
