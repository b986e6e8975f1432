"""The communication cell: closed-loop traffic with precedence deadlines, read-back and escalation."""
