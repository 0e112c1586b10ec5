"""agenther-local."""
