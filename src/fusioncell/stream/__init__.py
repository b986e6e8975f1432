"""The live stream: committed ledger entries a user may see, in ledger order, over a WebSocket."""
