"""The traffic benchmark: fusioncell (SQLite, PostgreSQL) against Matrix Synapse, and the SIGKILL loop."""
