"""The JavaScript catalog at /jsi18n/: the page scripts' strings, in Chinese by default and in English once chosen."""

import json
import re
from pathlib import Path

from django.test import Client

SCRIPTS = sorted((Path(__file__).resolve().parent.parent / "static" / "fansi").glob("*.js"))
GETTEXT_CALL = re.compile(r'\bgettext\("((?:[^"\\]|\\.)*)"\)')


def served_catalog(client: Client) -> dict[str, str]:
    response = client.get("/jsi18n/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    # Django renders no catalog at all when every string is untranslated (English msgids).
    found = re.search(r"const newcatalog = (\{.*?\});", response.content.decode(), re.S)
    return json.loads(found.group(1)) if found else {}


def script_strings() -> set[str]:
    return {json.loads(f'"{raw}"') for path in SCRIPTS for raw in GETTEXT_CALL.findall(path.read_text())}


def test_js_catalog_serves_chinese_by_default():
    catalog = served_catalog(Client())
    assert catalog["Something went wrong; please retry."] == "出错了，请重试。"
    assert catalog["Showing %(from)s–%(to)s of %(count)s"] == "第 %(from)s–%(to)s 条，共 %(count)s 条"


def test_every_string_the_scripts_show_has_a_chinese_translation():
    strings = script_strings()
    assert len(strings) > 100  # the regex still finds the calls
    catalog = served_catalog(Client())
    assert sorted(strings - catalog.keys()) == []
    # Every string with words in it (not only placeholders such as "%(processed)s of %(total)s") reads as Chinese.
    worded = [s for s in strings if re.search(r"[A-Za-z]{3}", re.sub(r"%\(\w+\)s", "", s))]
    assert [s for s in worded if not re.search(r"[\u4e00-\u9fff]", catalog[s])] == []


def test_js_catalog_serves_english_once_chosen():
    client = Client()
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/login/"})
    assert response.status_code == 302
    catalog = served_catalog(client)
    # gettext() then answers each msgid itself, which is the English text.
    assert script_strings() & catalog.keys() == set()
    assert "Something went wrong; please retry." not in catalog
