"""Use cases shared by the Python API, the HTTP API, the CLI and the workers."""
