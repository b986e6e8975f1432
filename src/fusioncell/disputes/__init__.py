"""Disputes: one shared case per dispute, every side's statements, the mediator's finding, stage deadlines."""
