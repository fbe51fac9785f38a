"""Which language rnnshape speaks, and every sentence it says in it.

A sentence a person reads is made with `tr("... {name} ...", name=value)`: a
`Message`, which *is* the English string (so JSON, CSV, comparisons and every
caller that wants the English keep working unchanged) and also remembers its
template and values. Where the text reaches a person (the one table renderer,
an `error:` line, `--help`, a script's comments, the flow picture's legend) it
goes through `say()`, which looks the template up in the chosen language's
gettext catalog (`rnnshape/locale/<lang>/LC_MESSAGES/rnnshape.mo`) and fills it
in again. Only what was made with `tr()` is translated: a tensor's name, a shape
or a number that happens to equal a catalog entry stays as it is.

The language: `--lang`, else `RNNSHAPE_LANG`, else the locale (the first of
`LC_ALL`, `LC_MESSAGES`, `LANG` that is set; Chinese where it starts with `zh`),
else English. English needs no catalog: choosing it reads no file and imports
nothing (tests/test_lazy_import.py).
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from typing import Any, Iterable, Iterator, Mapping

LANGUAGES = ("en", "zh")
ENGLISH = "en"
ENV = "RNNSHAPE_LANG"
# POSIX's order: the first of these that is set (and not empty) names the locale of messages.
LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG")
DOMAIN = "rnnshape"
LOCALE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "locale")

# The language a run speaks, chosen once per command (or per render() call): a context
# variable, so that two threads rendering in two languages do not hear each other.
_chosen: ContextVar[str | None] = ContextVar("rnnshape_language", default=None)


class Message(str):
    """An English sentence that remembers how it was made, so it can be said in another language.

    `Message("{n} of {total} checks held", n=3, total=4)` equals (and hashes, prints,
    serialises as) "3 of 4 checks held". A value that is itself a Message is translated
    with it; any other value is put in as it is (names, shapes and numbers never are).
    """

    template: str
    args: Mapping[str, Any]

    def __new__(cls, template: str, /, **args: Any) -> "Message":
        self = super().__new__(cls, template.format(**args) if args else template)
        self.template = template
        self.args = args
        return self

    def __reduce__(self) -> tuple[Any, ...]:  # pickled (a report sent to another process) as itself
        return (_rebuild, (type(self), self.template, dict(self.args)))


def _rebuild(cls: type, template: str, args: dict[str, Any]) -> "Message":
    return cls(template, **args)


class Joined(Message):
    """Messages joined by a separator (`"; ".join(...)`), each said in the language when the whole is."""

    parts: tuple[Any, ...]
    separator: str

    def __new__(cls, separator: str, parts: Iterable[Any]) -> "Joined":  # type: ignore[override]
        parts = tuple(parts)
        self = str.__new__(cls, separator.join(map(str, parts)))
        self.template, self.args = str(self), {}
        self.parts, self.separator = parts, separator
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (Joined, (self.separator, self.parts))


def tr(template: str, /, **args: Any) -> Message:
    """A sentence for a person: English now, any language where it is said (`say`).

    The one keyword the catalog's extraction looks for (tools/i18n.py): the
    template must be a literal, never built at run time.
    """
    if args:
        return Message(template, **args)
    # A sentence without values is one object, made once: validation names "a positive integer"
    # for every field of every config a sweep checks, mostly never to be shown.
    made = _CONSTANTS.get(template)
    if made is None:
        made = _CONSTANTS[template] = Message(template)
    return made


_CONSTANTS: dict[str, Message] = {}


def fill(template: str, /, **args: Any) -> Message:
    """A template kept as data (made with `tr()` where it is written, so the catalog has it), filled in now."""
    return Message(getattr(template, "template", template), **args)


def join(separator: str, parts: Iterable[Any]) -> Joined:
    return Joined(separator, parts)


def say(text: Any, lang: str | None = None) -> str:
    """`text` in `lang` (else the chosen language): a Message translated, anything else as it is."""
    if not isinstance(text, Message):
        return text if isinstance(text, str) else str(text)
    lang = lang or current()
    if lang == ENGLISH:
        return str.__str__(text)
    return _said(text, catalog(lang), lang)


def _said(text: Message, words: Mapping[str, str], lang: str) -> str:
    if isinstance(text, Joined):
        return text.separator.join(_said(p, words, lang) if isinstance(p, Message) else str(p) for p in text.parts)
    template = words.get(text.template) or text.template
    if not text.args:
        return template
    args = {k: _said(v, words, lang) if isinstance(v, Message) else v for k, v in text.args.items()}
    return template.format(**args)


def message_of(exc: BaseException) -> str:
    """An exception's message as it was made: a Message stays one (str(exc) gives its English only)."""
    return exc.args[0] if len(exc.args) == 1 and isinstance(exc.args[0], Message) else str(exc)


def said(template: str, /, **args: Any) -> str:
    """`say(tr(...))`: for text written at once in the chosen language (a script's comments, --help)."""
    return say(Message(template, **args))


# -- choosing ---------------------------------------------------------------------------------------

class LanguageProblem(ValueError):
    """A --lang or RNNSHAPE_LANG value that names no language rnnshape speaks."""

    def __init__(self, where: str, value: str):
        self.where, self.value = where, value
        super().__init__(f"{where} {value!r}")


def parse(value: str, where: str = "--lang") -> str:
    """`zh`, `en` (any case), or a locale name of either (`zh_CN.UTF-8`, `en-US`): the language; else LanguageProblem."""
    text = value.strip().lower().replace("-", "_")
    head = text.split("_", 1)[0].split(".", 1)[0]
    if head in LANGUAGES:
        return head
    raise LanguageProblem(where, value)


def lang_in(args: list[str]) -> str | None:
    """The value of --lang among a command line's arguments (before `--`), if one is given."""
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--lang" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1]
    return None


def from_environment(environ: Mapping[str, str] | None = None) -> str:
    """The language when no --lang is given: RNNSHAPE_LANG, else the locale, else English."""
    environ = os.environ if environ is None else environ
    own = environ.get(ENV, "").strip()
    if own:
        return parse(own, ENV)
    for name in LOCALE_VARIABLES:
        value = environ.get(name, "").strip()
        if value:  # the first one set decides, as it does for every program on the machine
            return "zh" if value.lower().startswith("zh") else ENGLISH
    return ENGLISH


def current() -> str:
    """The language chosen for this run (or this render), else the environment's."""
    chosen = _chosen.get()
    if chosen is not None:
        return chosen
    try:
        return from_environment()
    except LanguageProblem:  # refused where the command line starts (cli); a library call speaks English
        return ENGLISH


def current_is_chosen() -> bool:
    """Whether a language was chosen in this context (not merely read from the environment)."""
    return _chosen.get() is not None


class speaking:
    """`with speaking("zh"): ...`: everything said inside is in that language (None: as chosen before)."""

    def __init__(self, lang: str | None):
        self.lang = lang
        self._token: Any = None

    def __enter__(self) -> "speaking":
        if self.lang is not None:
            self._token = _chosen.set(parse(self.lang, "lang"))
        return self

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _chosen.reset(self._token)


def speaks(func: Any) -> Any:
    """An API function that takes `lang=` ("zh", "en"): the report it returns is printed and
    displayed in that language (Shown.lang); its data, to_dict() and JSON, never change."""
    import functools

    @functools.wraps(func)
    def call(*args: Any, lang: str | None = None, **kwargs: Any) -> Any:
        if lang is not None:
            try:
                lang = parse(lang, "lang")
            except LanguageProblem:
                from rnnshape.errors import SpecError

                raise SpecError("lang", tr("must be zh or en (got {value!r})", value=lang)) from None
        report = func(*args, **kwargs)
        if lang is not None:
            report.lang = lang
        return report

    return call


# -- the catalogs -----------------------------------------------------------------------------------

_catalogs: dict[str, Mapping[str, str]] = {}


def catalog(lang: str) -> Mapping[str, str]:
    """The compiled catalog of `lang` (msgid -> msgstr), opened once per process."""
    words = _catalogs.get(lang)
    if words is None:
        words = _catalogs[lang] = MoFile.open(os.path.join(LOCALE_DIR, lang, "LC_MESSAGES", DOMAIN + ".mo"))
    return words


class MoFile(Mapping[str, str]):
    """A gettext .mo file, looked up where it lies rather than decoded whole.

    The standard library's GNUTranslations decodes every one of its ~1,200 entries
    when it opens (4.5 ms, measured: most of what `--help --lang zh` cost over English).
    A .mo file's original strings are sorted (the format's own promise, which msgfmt
    and Babel keep), so a sentence is found by binary search over its index, and only
    the sentences a run says are decoded. The file is UTF-8 (tools/i18n.py writes it so).
    """

    _MAGIC = {0x950412DE: "<", 0xDE120495: ">"}

    def __init__(self, data: bytes):
        import struct

        self._data = data
        self._found: dict[str, str | None] = {}
        order = self._MAGIC.get(struct.unpack("<I", data[:4])[0]) if len(data) >= 28 else None
        if order is None:
            self._count, self._unpack = 0, None
            return
        _, _, self._count, self._originals, self._translations = struct.unpack(order + "5I", data[:20])
        self._unpack = struct.Struct(order + "II").unpack_from

    @classmethod
    def open(cls, path: str) -> "MoFile":
        try:
            with open(path, "rb") as handle:
                return cls(handle.read())
        except FileNotFoundError:  # an installation without catalogs speaks English rather than failing
            return cls(b"")

    def _original(self, i: int) -> bytes:
        length, offset = self._unpack(self._data, self._originals + 8 * i)
        return self._data[offset:offset + length]

    def _lookup(self, key: str) -> str | None:
        wanted = key.encode("utf-8")
        lo, hi = 0, self._count
        while lo < hi:
            mid = (lo + hi) // 2
            if self._original(mid) < wanted:
                lo = mid + 1
            else:
                hi = mid
        if lo < self._count and self._original(lo) == wanted:
            length, offset = self._unpack(self._data, self._translations + 8 * lo)
            return self._data[offset:offset + length].decode("utf-8")
        return None

    def get(self, key: object, default: Any = None) -> Any:
        if not isinstance(key, str) or not key:
            return default
        if key not in self._found:
            self._found[key] = self._lookup(key)
        value = self._found[key]
        return default if value is None else value

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __iter__(self) -> Iterator[str]:
        for i in range(self._count):
            original = self._original(i)
            if original and b"\x04" not in original and b"\x00" not in original:  # no header, contexts or plurals
                yield original.decode("utf-8")

    def __len__(self) -> int:
        return sum(1 for _ in self)
