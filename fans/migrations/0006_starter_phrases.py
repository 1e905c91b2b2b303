"""Starter phrase rules: what fans say → a tag of the starter vocabulary (zh-hans and English)."""

from django.db import migrations

# tag string → [(phrase, language, confidence)]
PHRASES = {
    "skin_type:oily": [("油皮", "zh", .9), ("出油", "zh", .75), ("大油田", "zh", .85), ("油性皮肤", "zh", .9),
                       ("oily skin", "en", .9), ("oily", "en", .6)],
    "skin_type:dry": [("干皮", "zh", .9), ("皮肤干", "zh", .8), ("起皮", "zh", .6), ("干性皮肤", "zh", .9),
                      ("dry skin", "en", .9)],
    "skin_type:combination": [("混油", "zh", .85), ("混干", "zh", .85), ("混合皮", "zh", .9), ("混合性皮肤", "zh", .9),
                              ("combination skin", "en", .9)],
    "skin_type:sensitive": [("敏感肌", "zh", .9), ("容易过敏", "zh", .7), ("sensitive skin", "en", .9)],
    "skin_type:normal": [("中性皮", "zh", .85), ("normal skin", "en", .8)],
    "skin_concern:acne": [("长痘", "zh", .85), ("痘痘", "zh", .8), ("闭口", "zh", .7), ("acne", "en", .85)],
    "skin_concern:pores": [("毛孔粗大", "zh", .9), ("毛孔大", "zh", .85), ("large pores", "en", .85)],
    "skin_concern:dullness": [("暗沉", "zh", .85), ("肤色不均", "zh", .6), ("dull skin", "en", .8)],
    "skin_concern:fine_lines": [("细纹", "zh", .85), ("皱纹", "zh", .8), ("fine lines", "en", .85), ("wrinkles", "en", .8)],
    "skin_concern:spots": [("色斑", "zh", .85), ("斑点", "zh", .6), ("dark spots", "en", .8)],
    "skin_concern:redness": [("泛红", "zh", .8), ("redness", "en", .8)],
    "skin_concern:dehydration": [("缺水", "zh", .8), ("dehydrated", "en", .8)],
    "preference:value": [("性价比", "zh", .85), ("便宜", "zh", .65), ("实惠", "zh", .75), ("划算", "zh", .7),
                         ("value for money", "en", .85), ("cheap", "en", .6), ("budget", "en", .5)],
    "preference:looks": [("颜值", "zh", .85), ("好看", "zh", .65), ("高颜值", "zh", .9), ("漂亮", "zh", .6),
                         ("good looking", "en", .75), ("pretty", "en", .6)],
    "household:expecting": [("怀孕", "zh", .85), ("备孕", "zh", .85), ("孕期", "zh", .85), ("pregnant", "en", .85)],
    "household:baby_0_1": [("新生儿", "zh", .85), ("宝宝刚出生", "zh", .9), ("坐月子", "zh", .8), ("newborn", "en", .85)],
    "household:baby_1_3": [("宝宝一岁", "zh", .8), ("宝宝两岁", "zh", .85), ("toddler", "en", .8)],
    "household:school_kids": [("孩子上学", "zh", .8), ("上小学", "zh", .8)],
    "household:pets": [("养猫", "zh", .85), ("养狗", "zh", .85), ("猫咪", "zh", .6), ("狗狗", "zh", .6),
                       ("my cat", "en", .75), ("my dog", "en", .75)],
    "household:elderly": [("和老人一起住", "zh", .85), ("家里有老人", "zh", .8)],
    "fruit_taste:sweet": [("爱吃甜", "zh", .85), ("喜欢甜", "zh", .85), ("越甜越好", "zh", .9), ("sweet tooth", "en", .8)],
    "fruit_taste:sour": [("爱吃酸", "zh", .85), ("喜欢酸", "zh", .85), ("sour", "en", .5)],
    "fruit_taste:crisp": [("脆甜", "zh", .7), ("爽脆", "zh", .8), ("crunchy", "en", .7)],
    "fruit_taste:soft": [("软糯", "zh", .8)],
    "fruit_taste:juicy": [("多汁", "zh", .8), ("juicy", "en", .7)],
    "fruit_taste:low_sugar": [("控糖", "zh", .85), ("低糖", "zh", .85), ("low sugar", "en", .85)],
    "clothing_size:xs": [("XS码", "zh", .9)],
    "clothing_size:s": [("S码", "zh", .85)],
    "clothing_size:m": [("M码", "zh", .85)],
    "clothing_size:l": [("L码", "zh", .85)],
    "clothing_size:xl": [("XL码", "zh", .9)],
    "clothing_size:xxl": [("XXL码", "zh", .9), ("2XL", "zh", .85)],
}


def load(apps, schema_editor):
    Tag = apps.get_model("fans", "Tag")
    PhraseRule = apps.get_model("fans", "PhraseRule")
    for tag_string, phrases in PHRASES.items():
        group_code, code = tag_string.split(":")
        tag = Tag.objects.get(group__code=group_code, group__shop__isnull=True, code=code)
        for phrase, language, confidence in phrases:
            PhraseRule.objects.update_or_create(
                shop=None, tag=tag, phrase=phrase, defaults={"language": language, "confidence": confidence}
            )


def unload(apps, schema_editor):
    apps.get_model("fans", "PhraseRule").objects.filter(shop__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("fans", "0005_bot")]
    operations = [migrations.RunPython(load, unload)]
