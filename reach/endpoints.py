"""Which push endpoints Fansi will POST to: a URL, and in production only https:// on public addresses.

The endpoint comes from the browser, so a crafted one could aim the push worker at an internal service (SSRF).
Production resolves the host and refuses any private, loopback, link-local or reserved address, at
subscription time and again before each send (the name may resolve elsewhere later).
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.translation import gettext as _

from core.errors import Invalid

MAX_LENGTH = 1000
_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "[::1]", "::1"}


class EndpointRefused(Invalid):
    code = "push_endpoint_refused"


def _public_only() -> bool:
    return bool(getattr(settings, "FANSI_PUSH_PUBLIC_ENDPOINTS_ONLY", False))


def _addresses(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(host, 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, OSError):
        return []
    return [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
    )


def endpoint_check(endpoint: object) -> str:
    """The endpoint, cleaned; Invalid (push_endpoint_invalid) or EndpointRefused with the reason."""
    if not isinstance(endpoint, str) or not endpoint.strip():
        raise Invalid(_("endpoint must be a URL."), code="push_endpoint_invalid")
    endpoint = endpoint.strip()
    if len(endpoint) > MAX_LENGTH:
        raise Invalid(_("endpoint is too long."), code="push_endpoint_invalid")
    try:
        URLValidator(schemes=["https", "http"])(endpoint)
    except ValidationError:
        # URLValidator refuses bare "127.0.0.1:port" hosts without a TLD in some forms; parse it ourselves.
        parts = urlsplit(endpoint)
        if not (parts.scheme == "http" and parts.hostname in _LOOPBACK_NAMES):
            raise Invalid(_("endpoint must be a URL."), code="push_endpoint_invalid") from None
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    if _public_only():
        if parts.scheme != "https":
            raise EndpointRefused(_("A push endpoint must use https://."))
        addresses = _addresses(host)
        if not addresses:
            raise EndpointRefused(_("The push endpoint's host does not resolve."))
        if not all(_is_public(a) for a in addresses):
            raise EndpointRefused(_("A push endpoint may not be on a private or local address."))
    elif parts.scheme == "http" and host not in _LOOPBACK_NAMES:
        # Outside production plain http is for a push endpoint on this machine (tests, benches) only.
        raise EndpointRefused(_("A push endpoint must use https:// (http:// only for 127.0.0.1)."))
    return endpoint


def endpoint_sendable(endpoint: str) -> bool:
    """Before each send: still a public address (production), or anything endpoint_check allowed."""
    if not _public_only():
        return True
    addresses = _addresses(urlsplit(endpoint).hostname or "")
    return bool(addresses) and all(_is_public(a) for a in addresses)
