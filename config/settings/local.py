"""Development (`manage.py` defaults here): DEBUG on, DJANGO_DEBUG=0 turns it off (as the benches do)."""

from config.settings.base import *  # noqa: F403
from config.settings.base import env_bool

DEBUG = env_bool("DJANGO_DEBUG", True)
