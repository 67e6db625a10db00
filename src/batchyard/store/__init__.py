"""Where batchyard keeps its state: the Store protocol and its SQL implementation."""
