"""The SMS provider interface for sign-in codes, and the simulated provider development and tests use.

A real provider (Aliyun SMS, Tencent Cloud SMS) implements `send_code`; settings.FANSI_SMS_PROVIDER names the
class. The simulated one sends nothing: it logs the code and remembers the last one per phone, for tests.
"""

import functools
import logging
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class SmsError(Exception):
    """The provider refused the message or could not be reached."""


class SmsProvider(Protocol):
    def send_code(self, *, phone: str, code: str) -> None:
        """Send the sign-in code to the (normalised) phone number; raise SmsError when it was not sent."""


class SimulatedSmsProvider:
    def __init__(self) -> None:
        self.sent: dict[str, str] = {}

    def send_code(self, *, phone: str, code: str) -> None:
        self.sent[phone] = code
        # Development reads the code from the log (or the answer, FANSI_SMS_DEBUG_CODES); never in production.
        logger.warning("simulated SMS to %s: sign-in code %s", phone, code)

    def last_code(self, phone: str) -> str | None:
        return self.sent.get(phone)


@functools.cache
def sms_provider() -> SmsProvider:
    return import_string(settings.FANSI_SMS_PROVIDER)()
