"""The duty officer's screens: server-rendered pages (Jinja2), refreshed in place by htmx, in English, Arabic
and Hebrew."""
