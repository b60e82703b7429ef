"""Naming load-time groups for people, and picking groups by name (``blaze-lab sweep SPEC --only GROUP``).

A group id (``llm-6a225b9cdfc9``) is a part name and a hash; a reader wants the load-time fields that tell the
part's groups apart (``llm bf16 · quant=none``). :func:`group_labels` gives that label, the one the progress bar,
``--dry-run`` and ``--only`` use; :func:`select_groups` accepts a group id (or a unique prefix of one) or any
substring of a label, case-insensitive, and refuses a name that matches nothing with the list of groups.

Example:
    >>> from blaze_lab.sweep.spec import parse_spec
    >>> from blaze_lab.sweep.plan import expand, groups
    >>> spec = parse_spec({"kind": "llm", "base": {"model": "random:tiny-llama"},
    ...                    "grid": {"dtype": ["fp32", "bf16"], "batch_size": [1, 2]}}, "s.yaml", check_notebooks=False)
    >>> plan = groups(expand(spec))
    >>> sorted(group_labels(plan).values())
    ['llm bf16', 'llm fp32']
    >>> [g.group_id == plan[1].group_id for g in select_groups(plan, ["BF16"])]
    [True]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from blaze_lab.errors import ConfigError
from blaze_lab.sweep.plan import Group


def _base_id(group: Group) -> str:
    return group.group_id.removesuffix(f"-rep{group.replication}") if group.replication else group.group_id


def varying_load_fields(plan: Sequence[Group]) -> dict[str, list[str]]:
    """Part name -> the load-time fields whose values differ between that part's groups (in config order)."""
    keys: dict[str, list[dict[str, Any]]] = {}
    for group in plan:
        if group.replication == 0:
            keys.setdefault(group.part, []).append(dict(group.runs[0].config.load_key()))
    out = {}
    for part, dicts in keys.items():
        out[part] = [k for k in dicts[0] if len({repr(d.get(k)) for d in dicts}) > 1]
    return out


def group_labels(plan: Sequence[Group], replications: bool = True) -> dict[str, str]:
    """Group id -> ``"<part> <varying load-time fields>"`` (``"llm bf16 · quant=none"``; a part with one group:
    its name), with ``" rep 2"`` for the second execution of a replicated group (``replications=False``: not)."""
    from blaze_lab.report.labels import LABEL_SEPARATOR, format_field

    fields = varying_load_fields(plan)
    out = {}
    for group in plan:
        key = dict(group.runs[0].config.load_key())
        text = LABEL_SEPARATOR.join(format_field(f, key.get(f)) for f in fields.get(group.part, []))
        label = f"{group.part} {text}".strip()
        if replications and group.replication:
            label += f" rep {group.replication + 1}"
        out[group.group_id] = label
    return out


def select_groups(plan: Sequence[Group], names: Sequence[str]) -> list[Group]:
    """The groups of ``plan`` that any of ``names`` picks (all replications of a picked group), in plan order.

    A name picks a group when it is its id, a prefix of its id, or a substring of its label (case-insensitive).
    ConfigError (field ``--only``) for a name that picks nothing, listing every group id with its label.
    """
    if not names:
        return list(plan)
    labels = group_labels(plan, replications=False)
    picked: set[str] = set()
    for name in names:
        needle = name.strip().lower()
        hits = {
            _base_id(g)
            for g in plan
            if needle and (g.group_id.lower().startswith(needle) or needle in labels[g.group_id].lower())
        }
        if not hits:
            raise ConfigError("--only", name, reason="matches no load-time group", allowed=_choices(plan, labels))
        picked |= hits
    return [g for g in plan if _base_id(g) in picked]


def _choices(plan: Sequence[Group], labels: Mapping[str, str]) -> list[str]:
    return [f"{g.group_id} ({labels[g.group_id]})" for g in plan if g.replication == 0]


__all__ = ["group_labels", "select_groups", "varying_load_fields"]
