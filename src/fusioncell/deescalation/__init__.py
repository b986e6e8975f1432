"""De-escalation on the ground: agreed zones, pre-notified activity in 4D, deconfliction, incidents, the map."""
