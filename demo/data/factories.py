"""工厂优选 in the demo: the factories' directory entries (category, 产地, MOQ, lead time, capacity), two
more beauty and clothing factories to compare with, and every scorecard computed from the seeded history."""

from preorders.scorecards import scorecards_recompute
from shops.models import Factory

# name: (category, origin, moq, lead time days, capacity per week, contact)
DIRECTORY = {
    "宁波暖冬服饰厂": ("clothing", "浙江宁波", 100, 30, 2000, "张厂长 0574-0000000"),
    "杭州轻衣制衣厂": ("clothing", "浙江杭州", 8, 3, 800, "李经理"),
    "云南果园合作社": ("fruit", "云南玉溪", 20, 2, 1500, ""),
    "赣南脐橙合作社": ("fruit", "江西赣州", 50, 3, 3000, ""),
    "广州白云美妆代工厂": ("beauty", "广东广州", 200, 15, 5000, ""),
    "景德镇青窑陶瓷厂": ("home", "江西景德镇", 50, 20, 600, ""),
    # Only in the directory (no orders yet): the ranking shows them below the proven ones.
    "义乌优妆日化厂": ("beauty", "浙江义乌", 500, 25, 8000, "王经理"),
    "虎门潮衣工坊": ("clothing", "广东东莞", 50, 10, 1200, "陈师傅"),
}


def demo_factories_ensure() -> int:
    """Fill in the directory and compute every scorecard; returns how many were computed."""
    for name, (category, origin, moq, lead, capacity, contact) in DIRECTORY.items():
        factory, _ = Factory.objects.get_or_create(name=name, defaults={"contact": contact})
        Factory.objects.filter(pk=factory.pk).update(
            category=category, origin=origin, moq=moq, lead_time_days=lead, capacity_per_week=capacity
        )
    return scorecards_recompute()
