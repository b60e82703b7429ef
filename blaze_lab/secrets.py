"""Credentials as values that print, serialize and hash only in redacted form.

A :class:`Secret` wraps one credential — a URL that may carry a password (``redis://:pw@host/0``) or an opaque
key. ``str``, ``repr``, ``format``, ``json.dumps(..., default=str)`` and config serialization (``to_dict``,
``flat``, ``config_hash``) all see the redacted form; the raw value comes out only through :meth:`Secret.reveal`,
which is meant for the one line that opens the connection or computes the MAC.

Where a secret comes from decides where it may travel. A spec or notebook parameter names an **environment
variable** — ``redis_url: {env: MY_REDIS_URL}`` — and the process that opens the connection (a papermill kernel
inherits its parent's environment) reads it there; only that reference is ever written down. A literal value is
fine in Python code, but :meth:`~blaze_lab.config.BaseConfig.from_dict` (what specs and notebook parameters go
through) refuses a literal that holds a credential, because it would end up in results, manifests and notebooks.

Example:
    >>> s = Secret("redis://:pw@127.0.0.1:6390/0")
    >>> s
    Secret('redis://:***@127.0.0.1:6390/0')
    >>> f"connecting to {s}"
    'connecting to redis://:***@127.0.0.1:6390/0'
    >>> s.reveal()
    'redis://:pw@127.0.0.1:6390/0'
    >>> redact_url("redis://u:p@ss:w@host/0?password=pw2&db=1")
    'redis://u:***@host/0?password=***&db=1'
    >>> import os
    >>> os.environ["DEMO_REDIS_URL"] = "redis://:pw@127.0.0.1:6390/0"
    >>> e = Secret.parse({"env": "DEMO_REDIS_URL"}, field="cache.redis_url")
    >>> e, e.to_json()
    (Secret(env='DEMO_REDIS_URL', value='redis://:***@127.0.0.1:6390/0'), {'env': 'DEMO_REDIS_URL'})
    >>> del os.environ["DEMO_REDIS_URL"]
    >>> Secret.parse({"env": "DEMO_REDIS_URL"}, field="cache.redis_url")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    blaze_lab.errors.ConfigError: cache.redis_url: invalid value {'env': 'DEMO_REDIS_URL'}; environment variable ...
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any, NoReturn
from urllib.parse import unquote

from blaze_lab.errors import ConfigError

MASK = "***"
SECRET_KINDS = ("url", "key")
"""``url``: only the password / userinfo and credential-like query values are hidden; ``key``: all of it."""

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://(?P<rest>.*)$", re.DOTALL)
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>`]*")
# A query/fragment parameter whose (lower-cased, unquoted) name contains one of these has its value hidden.
_SENSITIVE = ("pass", "pwd", "token", "secret", "auth", "key", "credential", "signature")
# Parts shorter than this are not searched for in free text (a 2-character password would mangle every word);
# the URL-shaped redaction of redact_text still covers them wherever they appear inside a URL.
_MIN_SCRUB = 4


def _redact_params(text: str, hidden: list[str]) -> str:
    out = []
    for chunk in re.split(r"([&;])", text):
        name, eq, value = chunk.partition("=")
        if eq and value and any(word in unquote(name).lower() for word in _SENSITIVE):
            hidden.append(value)
            chunk = f"{name}={MASK}"
        out.append(chunk)
    return "".join(out)


def _analyze(url: str) -> tuple[str, list[str]]:
    """(redacted url, the raw substrings it hides)."""
    match = _URL.match(url)
    if match is None:  # not scheme://...: cannot tell what is secret, so all of it is
        return (MASK, [url]) if url else ("", [])
    scheme, rest = match.group("scheme"), match.group("rest")
    hidden: list[str] = []
    # The LAST '@' ends the userinfo: passwords may contain '@', ':', '/', '?' or '#' unencoded. An '@' in the
    # query makes this over-redact (host hidden too) — the safe direction.
    at = rest.rfind("@")
    userinfo, after = (rest[:at], rest[at + 1 :]) if at >= 0 else (None, rest)
    shown_user = ""
    if userinfo is not None:
        user, colon, password = userinfo.partition(":")
        if colon:
            if password:
                hidden.append(password)
            shown_user = f"{user}:{MASK if password else ''}@"
        else:  # a lone userinfo may be a token used as the password: hide it
            hidden.append(userinfo)
            shown_user = f"{MASK}@" if userinfo else "@"
    cut = min((i for i in (after.find("?"), after.find("#")) if i >= 0), default=len(after))
    location, tail = after[:cut], after[cut:]
    query, hash_sign, fragment = tail.partition("#")
    redacted_tail = _redact_params(query, hidden) + hash_sign + _redact_params(fragment, hidden)
    return f"{scheme}://{shown_user}{location}{redacted_tail}", hidden


def redact_url(url: str) -> str:
    """``url`` with its password / userinfo and credential query values (``password=``, ``token=``...) as ``***``.

    Anything that does not parse as ``scheme://...`` is hidden entirely.

    >>> redact_url("redis://:s3cr3t-p@ss@127.0.0.1:1/0")
    'redis://:***@127.0.0.1:1/0'
    >>> redact_url("unix:///tmp/redis.sock?db=0&pass=x")
    'unix:///tmp/redis.sock?db=0&pass=***'
    >>> redact_url("127.0.0.1:6379"), redact_url("redis://127.0.0.1:6379/0")
    ('***', 'redis://127.0.0.1:6379/0')
    """
    return _analyze(url)[0]


def redact_text(text: str) -> str:
    """Free text (an error message, a log line) with every ``scheme://...`` in it passed through redact_url.

    >>> redact_text("Error connecting to redis://u:pw@db:6379/0. Connection refused.")
    'Error connecting to redis://u:***@db:6379/0. Connection refused.'
    """
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)


def _refuse(field: str, shown: object, reason: str) -> NoReturn:
    raise ConfigError(field, shown, reason=reason)


class Secret:
    """One credential. Immutable; equal when kind, source variable and value are equal.

    Args:
        value: the raw credential.
        kind: ``url`` (redact like :func:`redact_url`) or ``key`` (redact all of it).
        env: the environment variable it was read from (what serializes, instead of the value).
    """

    __slots__ = ("_value", "env", "kind")

    _value: str
    env: str | None
    kind: str

    def __init__(self, value: str, *, kind: str = "url", env: str | None = None) -> None:
        if not isinstance(value, str):
            raise TypeError(f"Secret value must be str, not {type(value).__name__}")
        if kind not in SECRET_KINDS:
            raise ValueError(f"Secret kind {kind!r}; allowed: {', '.join(SECRET_KINDS)}")
        object.__setattr__(self, "_value", value)
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "env", env)

    # -- construction ------------------------------------------------------------------------------------------
    @classmethod
    def from_env(cls, name: str, *, kind: str = "url", field: str = "secret") -> Secret:
        """The value of environment variable ``name``; ConfigError naming ``field`` when unset or empty."""
        if not isinstance(name, str) or not _ENV_NAME.match(name):
            _refuse(field, {"env": name}, "env must name an environment variable (letters, digits, '_')")
        value = os.environ.get(name)
        if not value:
            state = "is empty" if value == "" else "is not set"
            _refuse(
                field,
                {"env": name},
                f"environment variable {name} {state} (export it in the shell that runs blaze-lab; kernels inherit it)",
            )
        return cls(value, kind=kind, env=name)

    @classmethod
    def parse(cls, value: Any, *, field: str, kind: str = "url", literal: bool = True) -> Secret:
        """A Secret from what a config field may hold: a Secret, ``{"env": NAME}`` or a literal string.

        ``literal=False`` refuses a literal that holds a credential (what specs and notebook parameters must not
        contain). A redacted placeholder (``redis://:***@...``) is always refused: it is not the credential.
        """
        if isinstance(value, Secret):
            secret = value if value.kind == kind else cls(value._value, kind=kind, env=value.env)
        elif isinstance(value, Mapping):
            if set(value) != {"env"}:
                _refuse(field, _shape(value), "a secret mapping has exactly one key, env: {env: NAME}")
            secret = cls.from_env(value["env"], kind=kind, field=field)
        elif isinstance(value, str):
            secret = cls(value, kind=kind)
            if not literal and secret.is_credential:
                _refuse(
                    field,
                    secret.redacted,
                    "a credential written here would be copied into notebook parameters, the manifest and result "
                    "files; write {env: NAME} instead and export NAME",
                )
        else:
            _refuse(field, type(value).__name__, "must be a string or {env: NAME}")
        if secret.env is None and secret._hides(MASK):
            _refuse(field, secret.redacted, "this is a redacted placeholder, not the credential; give {env: NAME}")
        return secret

    # -- the only way out --------------------------------------------------------------------------------------
    def reveal(self) -> str:
        """The raw credential. Call it only where the connection is opened or the key is used."""
        return self._value

    # -- redacted views ----------------------------------------------------------------------------------------
    @property
    def redacted(self) -> str:
        return redact_url(self._value) if self.kind == "url" else MASK

    @property
    def is_credential(self) -> bool:
        """Whether redaction hides anything (a URL without password or token is not a credential)."""
        return self.redacted != self._value

    def _hidden(self) -> list[str]:
        return _analyze(self._value)[1] if self.kind == "url" else [self._value]

    def _hides(self, text: str) -> bool:
        return text in self._hidden()

    def to_json(self) -> str | dict[str, str]:
        """What may be written down: ``{"env": NAME}`` for a secret read from the environment, else the redacted
        value (for a URL without credentials that is the URL itself, so it round-trips)."""
        return {"env": self.env} if self.env is not None else self.redacted

    def identity(self) -> str | dict[str, str]:
        """What config hashes use: stable, and never the password (changing only the password keeps the hash)."""
        return self.redacted if self.env is None else {"env": self.env, "secret": self.redacted}

    def scrub(self, text: str) -> str:
        """``text`` with this secret (whole, or any hidden part) and every URL's credentials replaced by ``***``."""
        text = text.replace(self._value, self.redacted) if self._value else text
        for part in sorted(self._hidden(), key=len, reverse=True):
            for form in {part, unquote(part)}:
                if len(form) >= _MIN_SCRUB:
                    text = text.replace(form, MASK)
        return redact_text(text)

    # -- dunder: every printable / serializable form is redacted --------------------------------------------------
    def __str__(self) -> str:
        return self.redacted

    def __repr__(self) -> str:
        if self.env is None:
            return f"Secret({self.redacted!r})"
        shown = f", value={self.redacted!r}" if self.kind == "url" else ""
        return f"Secret(env={self.env!r}{shown})"

    def __format__(self, spec: str) -> str:
        return format(self.redacted, spec)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return (self.kind, self.env, self._value) == (other.kind, other.env, other._value)

    def __hash__(self) -> int:
        return hash((Secret, self.kind, self.env, self._value))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Secret is immutable")

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickling is serialization too: a secret read from the environment travels as the variable's name (and
        # is read again where it is unpickled); a literal one refuses rather than write the credential.
        if self.env is None:
            raise TypeError("a literal Secret cannot be pickled (it would write the credential); use {env: NAME}")
        return (_from_env, (self.env, self.kind))


def _from_env(name: str, kind: str) -> Secret:
    return Secret.from_env(name, kind=kind)


def _shape(value: Mapping[Any, Any]) -> dict[str, str]:
    """A mapping's keys with values hidden (an error message about a bad secret mapping must not show it)."""
    return {str(k): MASK for k in value}


__all__ = ["MASK", "SECRET_KINDS", "Secret", "redact_text", "redact_url"]
