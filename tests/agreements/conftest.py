from tests.agreements.helpers import signatories  # noqa: F401  (the fixture)
