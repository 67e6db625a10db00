"""Fixtures some integration modules share: a real `batchyard serve` per module and database."""

from __future__ import annotations

from tests.integration.images_server import module_server

__all__ = ["module_server"]
