"""The charter: the mechanism's agreed configuration, one YAML file validated at load."""

from fusioncell.charter.loader import CharterError, load_charter, parse_charter
from fusioncell.charter.model import Charter, Precedence

__all__ = ["Charter", "CharterError", "Precedence", "load_charter", "parse_charter"]
