"""The message catalogs: extract rnnshape's sentences, keep the Chinese .po in step, compile the .mo.

    python tools/i18n.py extract          # rnnshape/locale/rnnshape.pot from every tr("...") in rnnshape/
    python tools/i18n.py update           # the .pot's new sentences into each language's .po (translations kept)
    python tools/i18n.py compile          # each .po -> the .mo shipped in the wheel
    python tools/i18n.py build            # all three, in that order
    python tools/i18n.py check            # exit 1 if a sentence has no translation, is fuzzy, loses a
                                          # {placeholder}, or a .mo is older than its .po

The same files a translator's tools read and write: Poedit, Lokalize or `pybabel
update` work on rnnshape/locale/zh/LC_MESSAGES/rnnshape.po directly. Only Babel is
needed (the `test` extra has it); rnnshape itself reads the .mo with the standard
library's gettext.

`build --from A.po B.po ...` also takes translations from other .po files (a
translator's partial file) for msgids that have none yet.
"""

from __future__ import annotations

import argparse
import datetime
import fcntl
import io
import os
import re
import string
import sys
from contextlib import contextmanager

from babel.messages import mofile, pofile
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "rnnshape")
LOCALE = os.path.join(PACKAGE, "locale")
DOMAIN = "rnnshape"
TEMPLATE = os.path.join(LOCALE, DOMAIN + ".pot")
LANGUAGES = ("zh",)
# The functions whose first argument is a sentence (rnnshape/language.py).
KEYWORDS = {"tr": None, "said": None}
HEADER = "The sentences rnnshape says to a person. Identifiers, formulas and numbers stay as they are."


def po_path(lang: str) -> str:
    return os.path.join(LOCALE, lang, "LC_MESSAGES", DOMAIN + ".po")


def mo_path(lang: str) -> str:
    return os.path.join(LOCALE, lang, "LC_MESSAGES", DOMAIN + ".mo")


@contextmanager
def _locked():
    """One writer at a time (two people, or two terminals, building at once)."""
    import tempfile

    with open(os.path.join(tempfile.gettempdir(), "rnnshape-i18n-%d.lock" % os.getuid()), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def extracted() -> Catalog:
    """Every tr("...")/said("...") literal in the package, with where it is (file:line) and its flags."""
    template = Catalog(project="rnnshape", header_comment="# " + HEADER, fuzzy=False)
    skip = lambda path: "locale" not in path.split(os.sep)  # noqa: E731
    for filename, lineno, message, comments, context in extract_from_dir(
        PACKAGE, keywords=KEYWORDS, comment_tags=("translators:",), strip_comment_tags=True, directory_filter=skip
    ):
        if not message:
            continue
        path = os.path.relpath(os.path.join(PACKAGE, filename), ROOT)
        template.add(message, None, [(path, lineno)], auto_comments=comments, context=context,
                     flags=("python-brace-format",) if placeholders(message) else ())
    return template


def placeholders(text: str) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError:
        return set()


def read_po(path: str, lang: str | None = None) -> Catalog:
    with open(path, "rb") as handle:
        return pofile.read_po(handle, locale=lang, domain=DOMAIN)


def write_po(catalog: Catalog, path: str, **options) -> None:
    buffer = io.BytesIO()
    pofile.write_po(buffer, catalog, width=100, omit_header=False, sort_output=False, **options)
    # No dates: the file changes only when a sentence or its translation does.
    text = re.sub(rb'"(POT-Creation-Date|PO-Revision-Date): [^"]*\\n"\n', b"", buffer.getvalue())
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(text)


def extract() -> Catalog:
    template = extracted()
    write_po(template, TEMPLATE, ignore_obsolete=True)
    return template


def update(template: Catalog, sources: list[str]) -> None:
    extra: dict[str, str] = {}
    for source in sources:
        for message in read_po(source):
            if message.id and message.string and not message.fuzzy:
                extra.setdefault(message.id, message.string)
    for lang in LANGUAGES:
        path = po_path(lang)
        catalog = read_po(path, lang) if os.path.exists(path) else Catalog(locale=lang, domain=DOMAIN, project="rnnshape")
        catalog.update(template, no_fuzzy_matching=True, update_creation_date=False)
        _header(catalog, lang)
        for message in catalog:
            if message.id and not message.string and message.id in extra:
                message.string = extra[message.id]
        catalog.obsolete.clear()  # a sentence rnnshape no longer says is gone from the catalog too
        write_po(catalog, path, ignore_obsolete=True)


FIXED_DATE = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
TEAM = {"zh": "Chinese (rnnshape's glossary: docs/zh/glossary.md)"}


def _header(catalog: Catalog, lang: str) -> None:
    """The header a translator's tool reads; not fuzzy, or the .mo would lose its charset."""
    catalog.fuzzy = False
    catalog.project, catalog.version = "rnnshape", "0"
    catalog.copyright_holder = "rnnshape's authors"
    catalog.msgid_bugs_address = "https://github.com/rnnshape/rnnshape/issues"
    catalog.last_translator = "rnnshape's authors"
    catalog.language_team = TEAM.get(lang, lang)
    catalog.header_comment = f"# {lang} translations of rnnshape's sentences.\n# {HEADER}"


def compile_all() -> None:
    for lang in LANGUAGES:
        catalog = read_po(po_path(lang), lang)
        # The .po holds no dates (write_po), so Babel would stamp today into the .mo's header:
        # a fixed one keeps the compiled file the same bytes until a translation changes.
        catalog.creation_date = catalog.revision_date = FIXED_DATE
        with open(mo_path(lang), "wb") as handle:
            mofile.write_mo(handle, catalog, use_fuzzy=False)


def problems() -> list[str]:
    """What keeps the catalogs from being complete: each problem one line."""
    found = []
    template = extracted()
    for lang in LANGUAGES:
        catalog = read_po(po_path(lang), lang)
        for message in template:
            if not message.id:
                continue
            have = catalog.get(message.id)
            if have is None or not have.string:
                found.append(f"{lang}: no translation: {message.id!r}")
            elif have.fuzzy:
                found.append(f"{lang}: fuzzy: {message.id!r}")
            elif placeholders(have.string) != placeholders(message.id):
                found.append(f"{lang}: placeholders differ: {message.id!r} -> {have.string!r}")
        compiled = mo_path(lang)
        if not os.path.exists(compiled):
            found.append(f"{lang}: {compiled} is missing (python tools/i18n.py compile)")
        else:
            with open(compiled, "rb") as handle:
                shipped = {m.id: m.string for m in mofile.read_mo(handle) if m.id}
            wanted = {m.id: m.string for m in catalog if m.id and m.string and not m.fuzzy}
            if shipped != wanted:
                found.append(f"{lang}: {compiled} differs from its .po (python tools/i18n.py compile)")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("extract", "update", "compile", "build", "check"))
    parser.add_argument("--from", dest="sources", nargs="*", default=[], help="other .po files to take translations from")
    args = parser.parse_args(argv)
    if args.action == "check":
        found = problems()
        for line in found:
            print(line)
        print(f"{len(found)} problem(s)" if found else "the catalogs are complete")
        return 1 if found else 0
    with _locked():
        if args.action in ("extract", "update", "build"):
            template = extract()
            if args.action != "extract":
                update(template, args.sources)
        if args.action in ("compile", "build"):
            compile_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
