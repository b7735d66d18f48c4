"""English: URLs, e-mail addresses, Home Assistant entity ids, file and host names."""

from __future__ import annotations

import re

from .numbers import digits

# English: URLs, e-mail, entity ids, file names
# ---------------------------------------------------------------------------------------------


def _spell(word: str) -> str:
    """Letters joined by hyphens, which misaki reads one by one ("io" -> "I-O")."""
    return "-".join(word.upper())


# Top-level domains said as a word; every other one is spelled ("de" -> "D-E").
_TLD_AS_WORD = {"com", "org", "net", "dev", "app", "local", "lan", "home", "co", "me", "info"}
_TLD_AS_WORD |= {"gov", "cloud", "online", "shop", "site", "tech"}
# Bare host names ("example.com") are recognised only with these: "it", "me", "at" or "us"
# after a dot are far more often a missing space than a domain.
_BARE_TLDS = "com|org|net|io|dev|app|ai|local|lan|de|uk|eu|fr|nl|ch|au|tv|info|edu|gov|xyz|cloud"
_FILE_EXTS = {
    ext: _spell(ext)
    for ext in ("yml", "py", "csv", "db", "sh", "js", "html", "md", "png", "pdf", "xml", "css")
}
_FILE_EXTS |= {"mp3": "M-P-three", "mp4": "M-P-four", "json": "Jason", "txt": "text"}
_FILE_EXTS |= {"cfg": "config", "jpg": "jpeg", "wav": "wave"}
_FILE_EXTS |= {ext: ext for ext in ("yaml", "log", "conf", "ini", "jpeg", "gif", "zip", "toml")}
_HA_DOMAINS = (
    "alarm_control_panel|automation|binary_sensor|button|calendar|camera|climate|conversation"
    "|counter|cover|date|datetime|device_tracker|event|fan|group|homeassistant|humidifier|image"
    "|input_boolean|input_button|input_datetime|input_number|input_select|input_text|lawn_mower"
    "|light|lock|media_player|notify|number|person|remote|scene|schedule|script|select|sensor"
    "|siren|stt|sun|switch|text|time|timer|todo|tts|update|vacuum|valve|wake_word|water_heater"
    "|weather|zone"
)

URL_RE = re.compile(
    r"\b(?:(?:https?|ftp)://|www\.)"
    r"(?:[^\s/@]+@)?(?P<host>[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*)"
    r"(?::(?P<port>\d{1,5}))?(?P<path>/[^\s<>\"')\]]*)?"
)
EMAIL_RE = re.compile(
    r"\b(?P<user>[A-Za-z0-9][A-Za-z0-9._%+-]*)@(?P<host>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})\b"
)
ENTITY_RE = re.compile(rf"\b(?P<domain>{_HA_DOMAINS})\.(?P<obj>[a-z0-9_]+)\b(?!:\d|\.\w)")
DOMAIN_RE = re.compile(
    r"(?<![\w@.-])(?P<host>(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+"
    rf"(?P<tld>{_BARE_TLDS}))(?::(?P<port>\d{{1,5}}))?(?![\w-]|\.\w)"
)
FILE_RE = re.compile(
    rf"(?<![\w.-])(?P<name>[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)\.(?P<ext>{'|'.join(_FILE_EXTS)})"
    r"(?![\w-]|\.\w)"
)
SNAKE_RE = re.compile(r"(?<=[A-Za-z0-9])_+(?=[A-Za-z0-9])")
_PATH_SEGMENT_RE = re.compile(r"^[A-Za-z0-9_-]{1,24}$")


def _say_label(label: str) -> str:
    """One dotted-name label: hyphens/underscores become spaces, digits are read one by one."""
    label = re.sub(r"[-_]+", " ", label)
    return re.sub(r"\d+", lambda m: " " + digits(m.group()) + " ", label).strip()


def _say_host(host: str) -> str:
    labels = [lab for lab in host.split(".") if lab]
    if len(labels) > 1 and labels[0].lower() == "www":
        labels = labels[1:]
    words = [_say_label(lab) for lab in labels[:-1]]
    tld = labels[-1]
    if not tld.isalpha():  # an IP address
        words.append(_say_label(tld))
    else:
        words.append(tld.lower() if tld.lower() in _TLD_AS_WORD else _spell(tld))
    return " dot ".join(words)


def url_sub(m: re.Match[str]) -> str:
    text = m.group()
    trail = ""
    while text and text[-1] in ".,;:!?":
        trail = text[-1] + trail
        text = text[:-1]
    m2 = URL_RE.match(text)
    if m2 is None:
        return m.group()
    spoken = _say_host(m2.group("host"))
    if m2.group("port"):
        spoken += " port " + digits(m2.group("port"))
    path = (m2.group("path") or "").split("?", 1)[0].split("#", 1)[0].strip("/")
    segments = path.split("/") if path else []
    if 0 < len(segments) <= 3 and all(_PATH_SEGMENT_RE.match(s) for s in segments):
        spoken += "".join(" slash " + _say_label(s) for s in segments)
    return spoken + trail


def email_sub(m: re.Match[str]) -> str:
    user = " dot ".join(_say_label(p) for p in m.group("user").split(".") if p)
    return f"{user} at {_say_host(m.group('host'))}"


def domain_sub(m: re.Match[str]) -> str:
    spoken = _say_host(m.group("host"))
    if m.group("port"):
        spoken += " port " + digits(m.group("port"))
    return spoken


def file_sub(m: re.Match[str]) -> str:
    name = " dot ".join(_say_label(p) for p in m.group("name").split("."))
    return f"{name} dot {_FILE_EXTS[m.group('ext')]}"


def entity_sub(m: re.Match[str]) -> str:
    if m.group("obj") in _FILE_EXTS:
        return m.group()  # "script.py" is a file name
    domain = m.group("domain").replace("_", " ")
    obj = re.sub(r"_+", " ", m.group("obj")).strip()
    return f"{domain} {obj}"


# ---------------------------------------------------------------------------------------------
