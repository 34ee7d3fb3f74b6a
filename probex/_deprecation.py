"""Old argument names kept for one release, with a warning that names the new one."""

from __future__ import annotations

import functools
import warnings

__all__ = ["renamed_arguments", "deprecated_alias"]


def renamed_arguments(**renames: str):
    """Decorator: accept each old keyword name (``old="new"``) with a DeprecationWarning.

    Passing both the old and the new name is a TypeError.
    """

    def decorate(function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            for old, new in renames.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{function.__qualname__}() got both {old!r} and its "
                                        f"new name {new!r}")
                    warnings.warn(f"{function.__qualname__}: {old!r} is renamed {new!r}; the "
                                  "old name will be removed in the next release",
                                  DeprecationWarning, stacklevel=2)
                    kwargs[new] = kwargs.pop(old)
            return function(*args, **kwargs)

        wrapper.renamed_arguments = dict(renames)
        return wrapper

    return decorate


def deprecated_alias(new: str, doc: str | None = None) -> property:
    """A read-only property under an old attribute name that warns and returns ``new``."""

    def getter(self):
        warnings.warn(f"{type(self).__name__}: this attribute is renamed {new!r}; the old "
                      "name will be removed in the next release", DeprecationWarning,
                      stacklevel=2)
        return getattr(self, new)

    return property(getter, doc=doc or f"Deprecated alias of ``{new}``.")
