"""Jinja2 templates rendered to Block Kit JSON and e-mail, in English and French."""
