"""The worker side: claiming chunks, running items, committing, planning sources, supervising processes."""
