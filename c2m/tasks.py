"""Thin Celery wrappers around c2m services (STYLE.md): each re-checks state and is safe to run twice."""
