"""The platform-standard starter tag vocabulary (标签组), shipped as data."""

from django.db import migrations

# (code, zh, en, scope, choice, [(tag code, zh, en), ...])
VOCABULARY = [
    ("skin_type", "肤质", "Skin type", "beauty", "single", [
        ("dry", "干皮", "Dry"), ("combination", "混皮", "Combination"), ("oily", "油皮", "Oily"),
        ("normal", "中性皮", "Normal"), ("sensitive", "敏感肌", "Sensitive"),
    ]),
    ("skin_concern", "肌肤困扰", "Skin concern", "beauty", "multi", [
        ("acne", "痘痘", "Acne"), ("pores", "毛孔粗大", "Large pores"), ("dullness", "暗沉", "Dullness"),
        ("fine_lines", "细纹", "Fine lines"), ("spots", "色斑", "Dark spots"), ("redness", "泛红", "Redness"),
        ("dehydration", "缺水", "Dehydration"),
    ]),
    ("preference", "购物偏好", "Shopping preference", "all", "single", [
        ("value", "性价比", "Value for money"), ("looks", "颜值", "Good looks"),
    ]),
    ("household", "家庭情况", "Household", "home", "multi", [
        ("single", "单身", "Single"), ("couple", "二人世界", "Couple"), ("expecting", "备孕/孕期", "Expecting"),
        ("baby_0_1", "宝宝0-1岁", "Baby 0-1"), ("baby_1_3", "宝宝1-3岁", "Toddler 1-3"),
        ("school_kids", "学龄儿童", "School-age kids"), ("elderly", "与老人同住", "Lives with elderly"),
        ("pets", "养宠物", "Has pets"),
    ]),
    ("fruit_taste", "水果口味", "Fruit taste", "fruit", "multi", [
        ("sweet", "爱甜", "Sweet"), ("sour", "爱酸", "Sour"), ("crisp", "脆口", "Crisp"), ("soft", "软糯", "Soft"),
        ("juicy", "多汁", "Juicy"), ("low_sugar", "低糖", "Low sugar"),
    ]),
    ("clothing_size", "服装尺码", "Clothing size", "clothing", "single", [
        ("xs", "XS", "XS"), ("s", "S", "S"), ("m", "M", "M"), ("l", "L", "L"), ("xl", "XL", "XL"), ("xxl", "XXL", "XXL"),
    ]),
]


def load(apps, schema_editor):
    TagGroup = apps.get_model("fans", "TagGroup")
    Tag = apps.get_model("fans", "Tag")
    for gpos, (code, zh, en, scope, choice, tags) in enumerate(VOCABULARY):
        group, _ = TagGroup.objects.update_or_create(
            shop=None, code=code,
            defaults={"name_zh": zh, "name_en": en, "scope": scope, "choice": choice, "position": gpos},
        )
        for tpos, (tcode, tzh, ten) in enumerate(tags):
            Tag.objects.update_or_create(
                group=group, code=tcode, defaults={"name_zh": tzh, "name_en": ten, "position": tpos}
            )


def unload(apps, schema_editor):
    apps.get_model("fans", "TagGroup").objects.filter(shop=None, code__in=[v[0] for v in VOCABULARY]).delete()


class Migration(migrations.Migration):
    dependencies = [("fans", "0002_crm")]
    operations = [migrations.RunPython(load, unload)]
