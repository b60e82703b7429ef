"""Frozen, typed configs: the shared base and field validators.

Every engine config (``LLMConfig``, ``DiffusionConfig``, router and batching configs) is a frozen dataclass that
derives from :class:`BaseConfig`. A config splits into **load-time** fields (``LOAD_FIELDS``: changing one needs a
new model load) and **run-time** fields (everything else). Construction validates every field and raises
:class:`~blaze_lab.errors.ConfigError` naming the field and the allowed values; it has no side effects.

Example:
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Demo(BaseConfig):
    ...     PREFIX = "demo"
    ...     LOAD_FIELDS = ("model",)
    ...     model: str = "m"
    ...     batch_size: int = 1
    ...     def validate(self) -> None:
    ...         check_int(self, "batch_size", minimum=1)
    >>> Demo(batch_size=2).flat()
    {'demo.model': 'm', 'demo.batch_size': 2}
    >>> Demo(batch_size=0)
    Traceback (most recent call last):
    ...
    blaze_lab.errors.ConfigError: demo.batch_size: invalid value 0; must be >= 1

Credentials: a field named in ``SECRET_FIELDS`` (name -> ``"url"`` or ``"key"``) accepts a string, a
:class:`~blaze_lab.secrets.Secret` or ``{"env": NAME}`` and always holds a ``Secret`` after construction, so
``repr``, ``to_dict`` (``{"env": NAME}`` or the redacted value), ``flat`` (redacted) and the hashes (redacted form
plus variable name) never contain it; ``cfg.secret(name).reveal()`` is the way to the raw value.

    >>> from blaze_lab.secrets import Secret
    >>> @dataclass(frozen=True)
    ... class Db(BaseConfig):
    ...     PREFIX = "db"
    ...     SECRET_FIELDS = {"url": "url"}
    ...     url: Secret | str = "redis://127.0.0.1:6379/0"
    ...     def validate(self) -> None:
    ...         check_url(self, "url", ("redis://",))
    >>> db = Db(url="redis://:pw@127.0.0.1:6390/0")
    >>> db.flat(), db.to_dict()
    ({'db.url': 'redis://:***@127.0.0.1:6390/0'}, {'url': 'redis://:***@127.0.0.1:6390/0'})
    >>> db.secret("url").reveal()
    'redis://:pw@127.0.0.1:6390/0'
    >>> Db.from_dict({"url": "redis://:pw@127.0.0.1:6390/0"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    blaze_lab.errors.ConfigError: db.url: invalid value 'redis://:***@127.0.0.1:6390/0'; a credential written ...
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Self, get_type_hints

from blaze_lab.errors import ConfigError
from blaze_lab.secrets import Secret


@dataclasses.dataclass(frozen=True)
class BaseConfig:
    """Base of all configs: validation on construction, flattening, hashing and load/run split."""

    PREFIX: ClassVar[str] = "config"
    LOAD_FIELDS: ClassVar[tuple[str, ...]] = ()
    SECRET_FIELDS: ClassVar[Mapping[str, str]] = {}
    """Fields holding credentials -> secret kind (``url``: hide password and token parameters; ``key``: hide all)."""

    def __post_init__(self) -> None:
        for name, kind in self.SECRET_FIELDS.items():
            value = getattr(self, name)
            if value is not None:
                # Frozen dataclass: normalizing a field in __post_init__ is the documented way around it.
                object.__setattr__(self, name, Secret.parse(value, field=self.field_name(name), kind=kind))
        self.validate()

    def validate(self) -> None:
        """Raise ConfigError for any invalid field (subclasses override)."""

    # -- names -------------------------------------------------------------------------------------------------
    def field_name(self, name: str) -> str:
        """The dotted, user-facing name of a field (``llm.dtype``)."""
        return f"{self.PREFIX}.{name}"

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    # -- conversions -------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Field values; a secret appears as ``{"env": NAME}`` or its redacted value (what may be written down)."""
        return {f.name: _portable(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def flat(self) -> dict[str, Any]:
        """Config fields as dotted columns for a result row (secrets redacted)."""
        return {self.field_name(f.name): _column(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def secret(self, name: str) -> Secret | None:
        """The :class:`~blaze_lab.secrets.Secret` held by secret field ``name`` (None when the field is None)."""
        if name not in self.SECRET_FIELDS:
            raise KeyError(f"{self.field_name(name)} is not a secret field ({', '.join(self.SECRET_FIELDS)})")
        value = getattr(self, name)
        assert value is None or isinstance(value, Secret)  # __post_init__ normalized it
        return value

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "", *, literal_secrets: bool = False) -> Self:
        """Build strictly from a mapping: unknown keys and wrong types raise ConfigError naming the field.

        ``where`` prefixes field names in messages (e.g. ``"experiments/q.yaml:base"``). Secret fields take
        ``{"env": NAME}``; a literal credential is refused unless ``literal_secrets`` (mappings come from specs
        and notebook parameters, which are written to disk).
        """
        prefix = f"{where}." if where else f"{cls.PREFIX}."
        known = cls.field_names()
        for key in data:
            if key not in known:
                raise ConfigError(f"{prefix}{key}", reason="unknown key", allowed=known)
        hints = get_type_hints(cls)
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            kind = cls.SECRET_FIELDS.get(key)
            if kind is not None and value is not None:
                kwargs[key] = Secret.parse(value, field=f"{prefix}{key}", kind=kind, literal=literal_secrets)
            else:
                kwargs[key] = _coerce(f"{prefix}{key}", value, hints.get(key))
        try:
            return cls(**kwargs)
        except ConfigError as exc:
            if where and exc.field.startswith(f"{cls.PREFIX}."):
                raise ConfigError(
                    f"{where}.{exc.field[len(cls.PREFIX) + 1 :]}", exc.value, allowed=exc.allowed, reason=exc.reason
                ) from None
            raise

    def replace(self, **changes: Any) -> Self:
        return dataclasses.replace(self, **changes)

    # -- identity ----------------------------------------------------------------------------------------------
    def load_key(self) -> tuple[tuple[str, Any], ...]:
        """The load-time part of the config (what a model cache is keyed by)."""
        return tuple((name, _identity(getattr(self, name))) for name in self.LOAD_FIELDS)

    def run_fields(self) -> dict[str, Any]:
        return {k: v for k, v in self.to_dict().items() if k not in self.LOAD_FIELDS}

    def config_hash(self) -> str:
        """Stable 12-hex-digit hash of every field (identifies a run's config)."""
        fields = {f.name: _identity(getattr(self, f.name)) for f in dataclasses.fields(self)}
        return stable_hash({"kind": self.PREFIX, **fields})

    def load_hash(self) -> str:
        """Stable hash of the load-time fields (identifies a load-time group)."""
        return stable_hash({"kind": self.PREFIX, **dict(self.load_key())})


def stable_hash(obj: Any, length: int = 12) -> str:
    """sha256 of the canonical JSON of ``obj``, truncated (sorted keys, so dict order never matters)."""
    text = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    return value


def _portable(value: Any) -> Any:
    return value.to_json() if isinstance(value, Secret) else value


def _column(value: Any) -> Any:
    return value.redacted if isinstance(value, Secret) else _plain(value)


def _identity(value: Any) -> Any:
    # A literal URL without credentials hashes as the same string it always did (run ids stay stable).
    return value.identity() if isinstance(value, Secret) else _plain(value)


def _coerce(field: str, value: Any, hint: Any) -> Any:
    """Check YAML/JSON values against the annotated type; convert lists to tuples for tuple fields."""
    if hint is None:
        return value
    text = str(hint)
    allowed_types: list[type] = []
    if "bool" in text:
        allowed_types.append(bool)
    if "int" in text:
        allowed_types.append(int)
    if "float" in text:
        allowed_types.extend([float, int])
    if "str" in text:
        allowed_types.append(str)
    if "tuple" in text:
        if isinstance(value, list | tuple):
            return tuple(value)
        allowed_types.append(tuple)
    if "None" in text and value is None:
        return None
    if not allowed_types:
        return value
    if isinstance(value, bool) and bool not in allowed_types:
        raise ConfigError(field, value, reason=f"wrong type bool, expected {_type_names(allowed_types)}")
    if not isinstance(value, tuple(allowed_types)):
        raise ConfigError(
            field, value, reason=f"wrong type {type(value).__name__}, expected {_type_names(allowed_types)}"
        )
    if float in allowed_types and int not in allowed_types[: allowed_types.index(float)] and isinstance(value, int):
        if isinstance(value, bool):
            return value
        try:
            return float(value)
        except OverflowError:  # an int beyond the float range (YAML reads 1e400 as a string, 10**400 as an int)
            raise ConfigError(field, value, reason="too large for a float") from None
    return value


def _type_names(types: Iterable[type]) -> str:
    return " or ".join(sorted({t.__name__ for t in types}))


# -- validators (used inside validate()) ------------------------------------------------------------------------


def check_choice(cfg: BaseConfig, name: str, allowed: Iterable[Any]) -> None:
    """Raise ConfigError unless ``cfg.<name>`` is one of ``allowed``."""
    options = list(allowed)
    value = getattr(cfg, name)
    if value not in options:
        raise ConfigError(cfg.field_name(name), value, allowed=options)


# The widest integer every consumer holds: parquet/arrow int64 columns (and numpy/torch seeds within it).
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)


def _range(minimum: float | None, maximum: float | None) -> str:
    low = "-inf" if minimum is None else str(minimum)
    high = "inf" if maximum is None else str(maximum)
    return f"allowed range {low}..{high}"


def check_int(cfg: BaseConfig, name: str, minimum: int | None = None, maximum: int | None = None) -> None:
    """Raise ConfigError unless ``cfg.<name>`` is an int within bounds (always within int64: parquet's width).

    >>> import dataclasses
    >>> @dataclasses.dataclass(frozen=True)
    ... class C(BaseConfig):
    ...     seed: int = 0
    ...     def validate(self) -> None:
    ...         check_int(self, "seed", minimum=0)
    >>> try:
    ...     C(seed=10**29)
    ... except ConfigError as exc:
    ...     print(exc.reason)
    must be <= 9223372036854775807 (allowed range 0..9223372036854775807)
    """
    value = getattr(cfg, name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(cfg.field_name(name), value, reason="must be an integer")
    low = INT64_MIN if minimum is None else max(minimum, INT64_MIN)
    high = INT64_MAX if maximum is None else min(maximum, INT64_MAX)
    if value < low:
        raise ConfigError(cfg.field_name(name), value, reason=f"must be >= {low}")
    if value > high:
        raise ConfigError(cfg.field_name(name), value, reason=f"must be <= {high} ({_range(low, high)})")


def check_number(
    cfg: BaseConfig, name: str, minimum: float | None = None, maximum: float | None = None, strict_min: bool = False
) -> None:
    """Raise ConfigError unless ``cfg.<name>`` is a finite real number within bounds (``strict_min``: > minimum).

    NaN and infinities are refused: NaN passes every comparison, so it would slip through any bound.
    """
    value = getattr(cfg, name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(cfg.field_name(name), value, reason="must be a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(cfg.field_name(name), value, reason=f"must be a finite number ({_range(minimum, maximum)})")
    if minimum is not None and (value <= minimum if strict_min else value < minimum):
        raise ConfigError(cfg.field_name(name), value, reason=f"must be {'>' if strict_min else '>='} {minimum}")
    if maximum is not None and value > maximum:
        raise ConfigError(cfg.field_name(name), value, reason=f"must be <= {maximum} ({_range(minimum, maximum)})")


def check_url(cfg: BaseConfig, name: str, schemes: Iterable[str]) -> None:
    """Raise ConfigError unless secret (or str) field ``cfg.<name>`` starts with one of ``schemes``.

    The message shows the redacted value, never the credential.
    """
    allowed = tuple(schemes)
    value = getattr(cfg, name)
    raw = value.reveal() if isinstance(value, Secret) else value
    if not isinstance(raw, str) or not raw.startswith(allowed):
        shown = value.redacted if isinstance(value, Secret) else value
        raise ConfigError(cfg.field_name(name), shown, allowed=list(allowed))


def check_type(cfg: BaseConfig, name: str, typ: type | tuple[type, ...]) -> None:
    value = getattr(cfg, name)
    if not isinstance(value, typ):
        names = typ.__name__ if isinstance(typ, type) else " or ".join(t.__name__ for t in typ)
        raise ConfigError(cfg.field_name(name), value, reason=f"must be {names}")


__all__ = ["BaseConfig", "check_choice", "check_int", "check_number", "check_type", "check_url", "stable_hash"]
