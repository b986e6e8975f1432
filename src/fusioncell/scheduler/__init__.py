"""Stored deadlines (`due_at`) and the scheduler that acts on them, safe across app instances."""
