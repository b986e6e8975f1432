import os

# The CLI's console takes its width once, when fusioncell.cliutil is imported: off a terminal and without COLUMNS it
# prints tables whole. pytest-xdist's workers inherit COLUMNS=80 from their set-up, which would cut the tables the
# terminal tests read; the tests that want a width pass COLUMNS themselves.
os.environ.pop("COLUMNS", None)
