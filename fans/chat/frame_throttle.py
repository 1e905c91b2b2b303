"""Per-connection throttles for the websocket frames that store nothing but cost work: `sync` (a database read
of up to 500 messages) and `typing` (an access check, then a publish to both sides). `message.send` has its own
per-user limit across sockets and the REST API (fans.chat.ratelimit).

A token bucket per frame type and socket: a burst, then a steady rate. A frame over it is refused with an
error frame `rate_limited` (docs/chat-protocol.md); the socket stays open. FANSI_CHAT["FRAME_LIMITS"] may
override the (burst, per second) pairs below."""

import time
from dataclasses import dataclass, field

from django.conf import settings
from django.utils.translation import gettext as _

from core.errors import RateLimited

# (burst, refill per second). A client syncs once per open conversation after a reconnect (the burst) and
# then while has_more; a person types into one conversation at a time (typing frames every ~2 s).
DEFAULT_LIMITS: dict[str, tuple[float, float]] = {"sync": (30.0, 5.0), "typing": (10.0, 1.0)}


@dataclass
class _Bucket:
    burst: float
    rate: float
    tokens: float
    stamp: float = field(default_factory=time.monotonic)

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


class FrameThrottle:
    """One per websocket connection."""

    def __init__(self) -> None:
        limits = {**DEFAULT_LIMITS, **settings.FANSI_CHAT.get("FRAME_LIMITS", {})}
        self._buckets = {kind: _Bucket(burst, rate, burst) for kind, (burst, rate) in limits.items()}

    def check(self, kind: str) -> None:
        """Raise RateLimited when this connection sent too many `kind` frames lately."""
        bucket = self._buckets.get(kind)
        if bucket is not None and not bucket.take(time.monotonic()):
            raise RateLimited(
                _("Too many %(kind)s frames; please slow down.") % {"kind": kind}, code="rate_limited"
            )
