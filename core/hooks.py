"""Extension points: a lower app offers a registry, a higher app fills it in AppConfig.ready().

Apps depend downward only (STYLE.md), so when chat needs a campaign card or the bot needs campaign
drafts, the lower app declares a Registry and preorders registers a provider. A registry names the keys
its UI offers (`required`); core.checks fails start-up when one has no provider, so a forgotten
registration is an error at boot, not a button that always errors.
"""

from collections.abc import Iterator
from typing import Generic, TypeVar

P = TypeVar("P")

_registries: list["Registry"] = []


class Registry(Generic[P]):
    def __init__(self, name: str, *, required: tuple[str, ...] = (), offered_by: str = "") -> None:
        self.name, self.required, self.offered_by = name, required, offered_by
        self._providers: dict[str, P] = {}
        _registries.append(self)

    def register(self, key: str, provider: P) -> None:
        """Idempotent: ready() may run more than once (tests, autoreload)."""
        self._providers[key] = provider

    def unregister(self, key: str) -> None:
        self._providers.pop(key, None)

    def get(self, key: str) -> P | None:
        return self._providers.get(key)

    def __contains__(self, key: str) -> bool:
        return key in self._providers

    def keys(self) -> list[str]:
        return list(self._providers)

    def providers(self) -> Iterator[P]:
        return iter(list(self._providers.values()))

    def items(self) -> list[tuple[str, P]]:
        return list(self._providers.items())

    def missing(self) -> list[str]:
        return [key for key in self.required if key not in self._providers]


def registries() -> list[Registry]:
    return list(_registries)
