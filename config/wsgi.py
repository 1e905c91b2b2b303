import os

from django.core.wsgi import get_wsgi_application

# As config.asgi: a bare server runs config.settings.base, with DEBUG off.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
application = get_wsgi_application()
