"""What every part (miner, loss, backbone) declares about itself, and the one registry type.

A part is the only place its knowledge lives: its ``name`` (the config value), a ``label`` and a
``short`` name (for run ids and the project tree), one sentence of ``help``, its ``params`` (the
settings it reads, as :class:`~siam_workbench.base.fields.Field`) and :meth:`Part.describe`, the
rich text the Miners tab's Why view and the help show with a run's values. The form, the Miners tab,
``siam parts`` and run ids render from these, so a part from a plug-in file is shown exactly as a
built-in one is.

Settings are namespaced per part. A parameter is written flat (``[loss] alpha``) when every part
that reads that key declares it identically — a shared knob, such as the built-in losses' margin
α. A part whose declaration of a key differs from the one already registered gets a key of its
own, ``<part name>.<key>`` (written ``[loss.<name>]`` / ``<name>.key = …`` in TOML), so a
plug-in loss with its own ``alpha`` never collides with the built-in one. :meth:`Part.setting`
reads the part's own key.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from siam_workbench.base.errors import SiamError
from siam_workbench.base.fields import Field

if TYPE_CHECKING:
    from siam_workbench.base.notice import Notice, Seen

T = TypeVar("T", bound=Callable[..., object])  # a part class or a backbone factory


class Part:
    """Base of miners and losses (backbones are factories carrying the same attributes)."""

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""  # short human name for forms and legends
    short: ClassVar[str] = ""  # a few letters for run ids ("ap"); empty: the name
    help: ClassVar[str] = ""  # one sentence: what it prefers and why
    params: ClassVar[dict[str, Field]] = {}
    quiet: ClassVar[bool] = False  # a default that run ids and the project tree leave out
    section: ClassVar[str] = ""  # the config section its params live in ("mining", "loss")

    settings: Any

    @classmethod
    def schema_key(cls, key: str) -> str:
        """The key ``params[key]`` has in its config section (``alpha`` or ``focal.alpha``)."""
        return cls.__dict__.get("_schema_keys", {}).get(key, key)

    @classmethod
    def schema_params(cls) -> dict[str, Field]:
        """``params`` under their keys in the config section."""
        return {cls.schema_key(k): f for k, f in cls.params.items()}

    @classmethod
    def short_name(cls) -> str:
        """The token for run ids and the project tree ("" for a quiet default)."""
        return "" if cls.quiet else (cls.short or cls.name)

    @classmethod
    def value(cls, settings: Any, key: str) -> Any:
        """This part's value of ``params[key]`` in ``settings`` (a config section or any object
        with its keys as attributes), its default when the settings lack it."""
        value = getattr(settings, cls.schema_key(key), None) if settings is not None else None
        if value is None and key in cls.params:
            return cls.params[key].default
        return value

    def setting(self, key: str) -> Any:
        """A value of this part's settings, or its default when the settings lack it."""
        return type(self).value(self.settings, key)

    @classmethod
    def shown_value(cls, settings: Any, key: str, num_classes: int | None = None) -> str:
        """``params[key]``'s value as a reader should see it: parts whose 0 means "automatic"
        override this to show the value they use (auto-clustering's η)."""
        return _fmt(cls.value(settings, key))

    @classmethod
    def param_summary(cls, settings: Any = None, num_classes: int | None = None) -> str:
        """"γ 2, w 0": each parameter's symbol (its label up to " — ") and shown value."""
        return ", ".join(f"{f.title(k).split(' — ')[0]} {cls.shown_value(settings, k, num_classes)}"
                         for k, f in cls.params.items())

    @classmethod
    def describe(cls, settings: Any = None, num_classes: int | None = None) -> str:
        """Rich text for the Why view and the help: what the part does, with the values of
        ``settings`` (its config section) where given. Parts override it to show their
        formula; the default is the label, the help and every parameter's value."""
        text = f"<b>{cls.label or cls.name}</b>: {cls.help}" if cls.help else \
            f"<b>{cls.label or cls.name}</b>"
        if cls.params:
            values = ", ".join(f"{f.title(k)} = <b>{cls.shown_value(settings, k, num_classes)}"
                               "</b>" for k, f in cls.params.items())
            text += f" — {values}."
        return text

    @classmethod
    def advise(cls, settings: Any, seen: Seen) -> list[Notice]:
        """What this part has to say about a run that uses it (guided training,
        :mod:`siam_workbench.infer.advice`): notices from what the run recorded so far
        (``seen``) and the values of its section (``settings``, read with :meth:`value`). A
        suggestion names the part's own keys (``{cls.section: {cls.schema_key("eta"): 250}}``).
        Default: nothing to say."""
        return []


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return format(value, "g")
    return str(value)


class PartRegistry(dict[str, T], Generic[T]):
    """Name → part, in registration order: a dict (so existing readers and the plug-in
    transactions see a plain table) that applies the name rules of
    :mod:`siam_workbench.base.partnames` when a part is added."""

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what  # "a positive miner", "a loss", "a backbone": for messages

    def add(self, name: str, part: Any, peers: list[Any] | None = None) -> None:
        """Register ``part`` under ``name``; the same part again (its module imported twice)
        replaces itself, anything else under a taken name is refused. ``peers``: the parts
        whose class names it must not take (default: this registry's)."""
        from siam_workbench.base.partnames import check_class_name, same_part

        if not name or not isinstance(name, str):
            raise SiamError(f"{self.what} {getattr(part, '__name__', part)!r}: needs a name")
        known = self.get(name)
        if known is not None and not same_part(known, part):
            where = f"{known.__module__}.{getattr(known, '__qualname__', known)}"
            raise SiamError(f"{self.what} named {name!r} already exists ({where}); a plug-in "
                            "cannot replace a registered part")
        check_class_name(part, list(self.values()) if peers is None else peers)
        self[name] = part


def assign_keys(cls: type[Part], fields: dict[str, Field], owners: Sequence[type[Part]],
                reserved: tuple[str, ...]) -> dict[str, Field]:
    """Give each of ``cls``'s params its key in the section ``fields``: flat where that key is
    free or declared identically, ``<name>.<key>`` where another part (of ``owners``) declared
    it differently. Sets ``cls._schema_keys``; returns the fields to add."""
    keys: dict[str, str] = {}
    add: dict[str, Field] = {}
    for key, field in cls.params.items():
        if "." in key or not key:
            raise SiamError(f"{cls.section} part {cls.name!r}: parameter {key!r} must be a "
                            "plain name")
        others = [o for o in owners if o.__qualname__ != cls.__qualname__
                  and key in o.params and o.schema_key(key) == key]
        old = fields.get(key)
        flat_free = key not in reserved and (old is None or old == field or not others)
        schema = key if flat_free else f"{cls.name}.{key}"
        keys[key] = schema
        add[schema] = field
    cls._schema_keys = keys  # type: ignore[attr-defined]
    return add
