"""Name rules every part registry applies: a part registered again by its own module (a plug-in
imported a second time) is the same part; any other part under a taken name, or a part from
outside src/siam_workbench/ with a built-in's class name, is refused — a plug-in adds parts, it
never replaces one."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from siam_workbench.base.errors import SiamError

# A part is a class or, for backbones, a factory function: both carry the names compared here.
Part = Callable[..., object]


def same_part(known: Part, cls: Part) -> bool:
    """Whether ``cls`` is ``known`` again (its module imported a second time), not a rival."""
    return (known.__module__, known.__qualname__) == (cls.__module__, cls.__qualname__)


def check_class_name(cls: Part, registered: Sequence[Part]) -> None:
    """Refuse a part from outside src/siam_workbench/ whose class name is a built-in part's: code
    that reports or dispatches by class name would take it for the built-in."""
    for other in registered:
        if (other.__name__ == cls.__name__ and other.__module__.startswith("siam_workbench.")
                and not same_part(other, cls)):
            raise SiamError(f"{cls.__name__} is the class name of the built-in part "
                            f"{other.__module__}.{other.__qualname__}; rename the class")
