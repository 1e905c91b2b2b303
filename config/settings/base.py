"""Fansi settings for every environment, by concern: config.settings.core (apps, database, Redis, Celery,
the product's own settings), .observability (logs, metrics, replica, backups) and .hardening (sign-in,
tokens, CSP, uploads, the pool). local.py, test.py and production.py build on this module."""

from config.settings.hardening import *  # noqa: F403
