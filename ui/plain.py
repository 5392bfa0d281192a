"""Text that came from outside the app (file, sheet, column and metric names from loaded
files, messages quoting them, paths on the server), made safe to show in Streamlit's
Markdown: rendered as the characters it holds, never as a link, image, heading, list or
Streamlit directive (":red[...]", ":material/...:", "$...$")."""

from __future__ import annotations

import re
from pathlib import Path

# Every ASCII punctuation character may be backslash-escaped in CommonMark; escaping them
# all also breaks bare links ("https\:\/\/example\.com", "www\.example\.com", e-mail
# addresses), which GitHub-flavoured Markdown would otherwise link by itself.
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def md(text) -> str:
    """`text` as literal Markdown: line breaks and control characters become spaces (a
    new line could start a heading or a list), punctuation is escaped."""
    return _PUNCTUATION.sub(r"\\\1", _CONTROL.sub(" ", str(text)))


def relative(path, data_dir) -> str:
    """A server path as viewers may see it: relative to the data directory, or only its
    last part when it lies elsewhere (the server's layout is nobody's business)."""
    path, base = Path(path), Path(data_dir)
    try:
        return path.resolve().relative_to(base.resolve()).as_posix() or "."
    except ValueError:
        return path.name


def without_paths(text: str, data_dir, *others) -> str:
    """`text` with the data directory (and `others`) written relative to the data
    directory: loader messages name the folders files moved to."""
    text = str(text)
    for path in sorted({str(Path(p)) for p in (*others, data_dir) if p}, key=len, reverse=True):
        for form in {path, str(Path(path).resolve())}:
            rel = relative(form, data_dir)
            text = text.replace(form + "/", "" if rel == "." else rel + "/")
            text = text.replace(form, "the data directory" if rel == "." else rel)
    return text
