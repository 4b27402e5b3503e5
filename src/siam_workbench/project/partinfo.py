"""What the registered parts declare, gathered for the form, the Miners tab, ``siam parts``,
the help and run ids — so none of them names a part or restates a parameter.

Qt-free and light: it reads the registries (:mod:`siam_workbench.parts.miners`,
:mod:`siam_workbench.parts.losses`,
:mod:`siam_workbench.model.backbones`) and the schema's :class:`~siam_workbench.base.fields.Field`
declarations.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from siam_workbench.base.fields import Field


def _schema() -> dict[str, dict[str, Field]]:
    from siam_workbench.project.config import SCHEMA

    return SCHEMA


def miner(role: str, name: str) -> Any:
    """The registered miner class, or None (a plug-in that is not loaded)."""
    from siam_workbench.parts.miners import MINERS

    return MINERS[role].get(name) if role in MINERS else None


def loss(kind: str) -> Any:
    from siam_workbench.parts.losses import LOSSES

    return LOSSES.get(kind)


def backbone(name: str) -> Any:
    from siam_workbench.model.backbones import MODELS

    return MODELS.get(name)


def part_for(name: str, value: Any) -> Any:
    """The part a choice setting selects (``mining.positive`` = "random" → its class), or None
    when ``name`` is no part choice or the part is not registered."""
    section, key = name.split(".", 1)
    if section == "mining":
        return miner(key, str(value))
    if (section, key) == ("loss", "kind"):
        return loss(str(value))
    if (section, key) == ("model", "backbone"):
        return backbone(str(value))
    return None


def active_parts(values: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, Any]]:
    """``(section, part)`` for each registered part these config values choose: the miners in
    role order, then the loss (guided training asks each for its advice). A part that is not
    registered (a plug-in not loaded) is left out."""
    from siam_workbench.parts.miners import ROLES

    mining, kind = values.get("mining", {}), values.get("loss", {}).get("kind")
    chosen = [("mining", miner(role, str(mining[role]))) for role in ROLES if role in mining]
    if kind is not None:
        chosen.append(("loss", loss(str(kind))))
    return [(section, part) for section, part in chosen if part is not None]


def choice_labels(name: str) -> dict[str, str]:
    """value → the part's label for a part choice (``loss.kind``: "metric" → "metric (paper
    §3.4)"); empty for any other setting."""
    section, key = name.split(".", 1)
    if section == "mining":
        from siam_workbench.parts.miners import MINERS

        table: Mapping[str, Any] = MINERS.get(key, {})
    elif (section, key) == ("loss", "kind"):
        from siam_workbench.parts.losses import LOSSES

        table = LOSSES
    elif (section, key) == ("model", "backbone"):
        from siam_workbench.model.backbones import MODELS

        table = MODELS
    else:
        return {}
    return {n: getattr(p, "label", "") or n for n, p in table.items()}


def title(section: str, key: str) -> str:
    """The form's label of ``section.key``: its declared label (or the key in words)."""
    field = _schema().get(section, {}).get(key)
    if field is None:
        return key.replace("_", " ").capitalize()
    return field.title(key)


def owners(section: str, key: str) -> list[tuple[str, Any]]:
    """``(role setting, part)`` for each registered part that reads ``section.key`` as one of
    its own parameters: ``[("mining.positive", AutoProbabilistic)]`` for ``mining.gamma``."""
    out: list[tuple[str, Any]] = []
    if section == "mining":
        from siam_workbench.parts.miners import MINERS

        for role, by_name in MINERS.items():
            out += [(f"mining.{role}", cls) for cls in by_name.values()
                    if key in cls.schema_params()]
    elif section == "loss":
        from siam_workbench.parts.losses import LOSSES

        out += [("loss.kind", cls) for cls in LOSSES.values() if key in cls.schema_params()]
    return out


def unused(values: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """``section.key`` → why it has no effect with these values (θ with random negatives, blur σ
    with blur off), from the declarations alone: a part's parameter is used while a role
    setting names a part that reads it; a field with ``used_when`` while its setting has one of
    the listed values and is itself used."""
    def get(name: str) -> Any:
        sec, key = name.split(".", 1)
        return values.get(sec, {}).get(key)

    out: dict[str, str] = {}
    schema = _schema()

    def why(name: str, depth: int = 0) -> str:
        if name in out or depth > 8:
            return out.get(name, "")
        section, key = name.split(".", 1)
        field = schema.get(section, {}).get(key)
        if field is None or get(name) is None:
            return ""
        reason = ""
        parts = owners(section, key)
        if parts:
            roles = {role for role, _ in parts}
            if not any(get(role) in {c.name for r, c in parts if r == role} for role in roles):
                role = sorted(roles)[0]
                reason = f"not used while {role} is {_shown(get(role))}"
        if not reason and field.used_when is not None:
            dep, allowed = field.used_when
            if get(dep) is not None:
                if get(dep) not in allowed:
                    reason = f"not used while {dep} is {_shown(get(dep))}"
                else:
                    reason = why(dep, depth + 1)
        if reason:
            out[name] = reason
        return reason

    for section, table in values.items():
        for key in table:
            why(f"{section}.{key}")
    return out


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "off" if value is False else "on"
    return str(value)


def run_tokens(mining: Mapping[str, Any]) -> list[str]:
    """The miners' short names for a run id or the project tree, positive first; a quiet
    default (the batch miner ``all``) is left out, an unknown plug-in shows by name."""
    from siam_workbench.parts.miners import ROLES

    tokens = []
    for role in ROLES:
        if role not in mining:
            continue
        cls = miner(role, str(mining[role]))
        token = cls.short_name() if cls is not None else str(mining[role])
        if token:
            tokens.append(token)
    return tokens


def describe_miners(config: Any, positive: str, negative: str,
                    num_classes: int | None = None) -> str:
    """The positive and negative miners' descriptions with a run's ``[mining]`` values (rich
    text for the Miners tab's Why view), each from its part's :meth:`describe`."""
    settings = config.mining if config is not None else None
    lines = []
    for role, name in (("positive", positive), ("negative", negative)):
        cls = miner(role, name)
        if cls is None:
            lines.append(f"<b>{name}</b> {role}s (a miner plug-in that is not loaded).")
        else:
            lines.append(cls.describe(settings, num_classes))
    return "<br>".join(lines)


def part_help(section: str, key: str, value: Any, settings: Any = None,
              num_classes: int | None = None) -> str:
    """Rich text about the part a choice selects (its describe()), or ""."""
    part = part_for(f"{section}.{key}", value)
    if part is None:
        return ""
    if (section, key) == ("model", "backbone"):
        from siam_workbench.model.backbones import backbone_describe

        return backbone_describe(str(value))
    return part.describe(settings, num_classes)


def params_text(config: Any, positive: str, negative: str, num_classes: int | None = None) -> str:
    """" · γ 2, w 0; θ 0.5, η 27 (auto)": the positive and negative miners' parameters as each
    declares and shows them ("" when neither has any)."""
    settings = config.mining if config is not None else None
    parts = []
    for role, name in (("positive", positive), ("negative", negative)):
        cls = miner(role, name)
        if cls is not None and cls.params:
            parts.append(cls.param_summary(settings, num_classes))
    return (" · " + "; ".join(parts)) if parts else ""
