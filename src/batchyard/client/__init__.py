"""A typed HTTP client for the batchyard service."""

from batchyard.client.http import Client, ClientError

__all__ = ["Client", "ClientError"]
