"""Jinja2 templates of the mails (data only). A package so that setuptools ships the *.j2 files with it."""
