"""fusioncell: the software of a mediated joint coordination cell."""

__version__ = "0.1.0"
