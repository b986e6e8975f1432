"""Intelligence sharing: STIX 2.1 items a party submits and the mediator releases, served over TAXII 2.1."""
