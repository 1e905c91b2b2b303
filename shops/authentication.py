"""API authentication: DRF's token scheme (`Authorization: Token …`) with a precompiled lookup."""

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.utils.translation import gettext as _
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed

from core.tokens import TokenExpired, token_is_expired


class PlainTokenAuthentication(TokenAuthentication):
    """DRF's TokenAuthentication with its query written once instead of compiled by the ORM per request.

    Tokens expire FANSI_TOKEN_TTL_DAYS after they were issued (core/tokens.py).
    The project's API authentication (settings.REST_FRAMEWORK). The same answers (a fresh database read per
    request, so a deleted token or inactive user is refused at once); only the cost differs. On the pledge
    endpoint, which a busy campaign hits hundreds of times a second, building
    `Token.objects.select_related("user").get(key=...)` cost more than running it (bench/preorders.py).
    """

    _plan: tuple[str, list[str], list[tuple[Any, list[Any]]]] | None = None

    @classmethod
    def _query(cls) -> tuple[str, list[str], list[tuple[Any, list[Any]]]]:
        """The SQL, the user's attribute names and each column's from-database converters (per process)."""
        if cls._plan is None:
            user_model = get_user_model()
            fields = list(user_model._meta.concrete_fields)
            sql = (
                f"SELECT {', '.join('u.' + connection.ops.quote_name(f.column) for f in fields)}, t.created "
                f"FROM {user_model._meta.db_table} u JOIN {Token._meta.db_table} t ON t.user_id = u.id "
                f"WHERE t.key = %s"
            )
            converters = []
            for field in fields:
                col = field.get_col(user_model._meta.db_table)
                converters.append(
                    (col, connection.ops.get_db_converters(col) + field.get_db_converters(connection))
                )
            created = Token._meta.get_field("created")
            col = created.get_col(Token._meta.db_table)
            converters.append(
                (col, connection.ops.get_db_converters(col) + created.get_db_converters(connection))
            )
            cls._plan = (sql, [f.attname for f in fields], converters)
        return cls._plan

    def authenticate_credentials(self, key: str) -> tuple[AbstractBaseUser, Token]:
        sql, attnames, converters = self._query()
        with connection.cursor() as cursor:
            cursor.execute(sql, [key])
            row = cursor.fetchone()
        if row is None:
            raise AuthenticationFailed(_("Invalid token."))
        values = []
        for value, (col, funcs) in zip(row, converters, strict=True):
            for func in funcs:
                value = func(value, col, connection)
            values.append(value)
        *values, created = values
        if token_is_expired(created):
            # Fixed lifetime (core/tokens.py): sign in again or rotate before it ends.
            raise TokenExpired()
        user = get_user_model().from_db(connection.alias, attnames, values)
        if not user.is_active:
            raise AuthenticationFailed(_("User inactive or deleted."))
        return user, Token(key=key, user=user, created=created)
