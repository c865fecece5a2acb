"""Secrets kept out of what edgekd prints or writes: URL passwords, ``--password``-like flags, tokens.

A ``--storage postgresql://user:PASSWORD@host/db`` must not reach a terminal, a log or a crash file. Three
layers, because a secret travels in several forms:

- a URL's password is everything between ``user:`` and the *last* ``@`` of the authority, so a password
  that itself contains ``@`` is hidden whole (``postgresql://u:p@ss@h/db`` → ``postgresql://u:***@h/db``);
- the value of a flag or key whose name says secret (``--password X``, ``--api-key=X``, ``token: X``,
  ``?password=X``);
- the secrets found in the command line are then masked wherever they appear (a backend's message may quote
  the password alone, or percent-decoded).

Standard library only: the crash handler imports it after anything else may have failed.
"""

from __future__ import annotations

import re
from typing import Iterable, Sequence
from urllib.parse import unquote

MASK = "***"
_SECRET_WORDS = r"(?:password|passwd|passphrase|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?)"
# a whole argv element that is a URL with a password: greedy (.*) takes the password up to the last '@'
# that is followed by a host without '@' or '/'
_URL_ARG = re.compile(r"^(?P<head>.*?[A-Za-z][A-Za-z0-9+.-]*://[^:@/\s]*:)(?P<pw>.*)@(?P<tail>[^@/]*(?:/.*)?)$", re.S)
# a URL inside running text: the password stops at white space or a quote, the host has no '@', '/' or space
_URL_TEXT = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:@/\s'\"]*:)(?P<pw>[^\s'\"]*)@(?=[^@/\s'\"]*)")
_FLAG = re.compile(rf"^--?[\w-]*{_SECRET_WORDS}[\w-]*$", re.I)
_FLAG_EQ = re.compile(rf"^(?P<head>--?[\w-]*{_SECRET_WORDS}[\w-]*=)(?P<value>.*)$", re.I | re.S)
_KEY_VALUE = re.compile(rf"(?P<head>\b[\w.-]*{_SECRET_WORDS}[\w.-]*['\"]?\s*[=:]\s*['\"]?)(?P<value>[^\s'\",;&)\]}}]+)",
                        re.I)
_MIN_LITERAL = 4  # shorter secrets are masked only where their context shows them (masking "ab" everywhere mangles)


def redact_argv(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """The command line with its secrets masked, and the secrets found (to mask them elsewhere too).

    Example:
        >>> redact_argv(["sweep", "--storage", "postgresql://u:p@ss@db:5432/x", "--token", "abc123"])[0]
        ['sweep', '--storage', 'postgresql://u:***@db:5432/x', '--token', '***']
    """
    out: list[str] = []
    found: list[str] = []
    hide_next = False
    for arg in map(str, argv):
        if hide_next:
            found.append(arg)
            out.append(MASK)
            hide_next = False
            continue
        m = _FLAG_EQ.match(arg)
        if m:
            found.append(m["value"])
            out.append(m["head"] + MASK)
            continue
        if _FLAG.match(arg):
            hide_next = True
            out.append(arg)
            continue
        m = _URL_ARG.match(arg)
        if m:
            found.append(m["pw"])
            arg = f"{m['head']}{MASK}@{m['tail']}"
        out.append(_mask_key_values(arg, found))
    return out, found


def _mask_key_values(text: str, found: list[str]) -> str:
    def sub(m: re.Match) -> str:
        found.append(m["value"])
        return m["head"] + MASK

    return _KEY_VALUE.sub(sub, text)


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with URL passwords, secret-named values and the given ``secrets`` (and their percent-decoded
    forms) masked.

    Example:
        >>> redact_text("cannot reach postgresql://u:p@ss@h/db (password=hunter2)")
        'cannot reach postgresql://u:***@h/db (password=***)'
    """
    literals = {s for given in secrets for s in (given, unquote(given)) if len(s) >= _MIN_LITERAL}
    for s in sorted(literals, key=len, reverse=True):
        text = text.replace(s, MASK)
    text = _URL_TEXT.sub(lambda m: f"{m['head']}{MASK}@", _greedy_urls(text))
    return _mask_key_values(text, [])


def _greedy_urls(text: str) -> str:
    """A password with '@' inside running text: mask up to the last '@' before the host (same token)."""
    def sub(m: re.Match) -> str:
        token = m.group(0)
        am = _URL_ARG.match(token)
        return f"{am['head']}{MASK}@{am['tail']}" if am else token

    return re.sub(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"]+", sub, text)


def redact_url(url: str) -> str:
    """A storage URL without its password, for messages and ``sweep.json``.

    Example:
        >>> redact_url("postgresql://user:a@b:c@host:5432/db")
        'postgresql://user:***@host:5432/db'
    """
    return redact_argv([url])[0][0]
