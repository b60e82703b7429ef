import dataclasses

import pytest

from blaze_lab.config import BaseConfig, check_choice, check_int
from blaze_lab.errors import BlazeLabError, ConfigError


@dataclasses.dataclass(frozen=True)
class _Cfg(BaseConfig):
    PREFIX = "t"
    LOAD_FIELDS = ("model",)
    model: str = "m"
    mode: str = "a"
    size: int = 1
    ratio: float = 0.5

    def validate(self) -> None:
        check_choice(self, "mode", ["a", "b"])
        check_int(self, "size", minimum=1)


def test_validation_names_field_and_allowed_values() -> None:
    with pytest.raises(ConfigError) as exc:
        _Cfg(mode="z")
    assert str(exc.value) == "t.mode: invalid value 'z'; allowed: a, b"
    assert isinstance(exc.value, BlazeLabError)


def test_from_dict_rejects_unknown_keys_and_wrong_types_with_location() -> None:
    with pytest.raises(ConfigError, match=r"spec.yaml:base.colour: invalid; unknown key; allowed: model, mode"):
        _Cfg.from_dict({"colour": 1}, where="spec.yaml:base")
    with pytest.raises(ConfigError, match=r"spec.yaml:base.size: invalid value 'x'; wrong type str"):
        _Cfg.from_dict({"size": "x"}, where="spec.yaml:base")
    with pytest.raises(ConfigError, match=r"spec.yaml:base.size: invalid value 0; must be >= 1"):
        _Cfg.from_dict({"size": 0}, where="spec.yaml:base")
    assert _Cfg.from_dict({"ratio": 1}).ratio == 1.0


def test_hashes_and_load_split() -> None:
    a, b = _Cfg(size=1), _Cfg(size=2)
    assert a.config_hash() != b.config_hash()
    assert a.load_hash() == b.load_hash()
    assert a.load_key() == (("model", "m"),)
    assert a.flat() == {"t.model": "m", "t.mode": "a", "t.size": 1, "t.ratio": 0.5}
    assert _Cfg().config_hash() == _Cfg().config_hash()
