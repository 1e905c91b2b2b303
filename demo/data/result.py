"""What a demo run created, for the report the command prints."""

from dataclasses import dataclass, field

from shops.models import Shop


@dataclass
class DemoResult:
    users_created: int = 0
    fans_created: int = 0
    products_created: int = 0
    variants_created: int = 0
    images_written: int = 0
    messages_created: int = 0
    shops: list[Shop] = field(default_factory=list)
    money: dict[str, int] = field(default_factory=dict)  # the shipped and the balance-due campaigns
    fruit_box: dict[str, int] = field(
        default_factory=dict
    )  # the box's campaign and a fan's pledge, for links
    design: dict[str, int] = field(default_factory=dict)  # the decided and the live design rounds
