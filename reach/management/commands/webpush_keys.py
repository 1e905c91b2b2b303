"""Print a fresh VAPID key pair in the settings' format (base64url raw keys) for FANSI_VAPID_*."""

from typing import Any

from cryptography.hazmat.primitives import serialization
from django.core.management.base import BaseCommand
from py_vapid import Vapid
from py_vapid.utils import b64urlencode


class Command(BaseCommand):
    help = "Print a new VAPID key pair for web push (FANSI_VAPID_PUBLIC_KEY / FANSI_VAPID_PRIVATE_KEY)."

    def handle(self, *args: Any, **options: Any) -> None:
        vapid = Vapid()
        vapid.generate_keys()
        private = vapid.private_key.private_numbers().private_value.to_bytes(32, "big")
        public = vapid.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.stdout.write(f"FANSI_VAPID_PUBLIC_KEY={b64urlencode(public)}")
        self.stdout.write(f"FANSI_VAPID_PRIVATE_KEY={b64urlencode(private)}")
