"""Registries map the ``type`` names used in config files to Python classes.

A registry is a plain name -> class table with a ``build`` method that turns a
config dict such as ``dict(type='ResNet', depth=50)`` into an object. The
registries themselves live next to what they hold (``MODELS`` in
``actionlab.models``, ``TRANSFORMS`` in ``actionlab.data.transforms`` and so on);
this module only provides the mechanism.

Every component must accept lists wherever MMAction2 takes tuples, because JSON
and YAML configs have no tuples: components convert with ``tuple(x)`` instead of
checking ``isinstance(x, tuple)``.
"""
from __future__ import annotations

import difflib
import inspect
import re
from collections.abc import Callable, Mapping
from typing import Any


class BuildError(TypeError):
    """A config dict could not be turned into an object (unknown type, bad argument)."""


class Registry:
    """A table of named classes (or factory functions) of one kind.

    Example::

        MODELS = Registry('model')

        @MODELS.register_module()
        class ResNet(nn.Module): ...

        backbone = MODELS.build(dict(type='ResNet', depth=50))
    """

    def __init__(self, name: str):
        self.name = name
        self._modules: dict[str, Callable] = {}

    def __len__(self) -> int:
        return len(self._modules)

    def __contains__(self, name: str) -> bool:
        return name in self._modules

    def __repr__(self) -> str:
        return f'Registry(name={self.name!r}, items={sorted(self._modules)})'

    def keys(self) -> list[str]:
        return sorted(self._modules)

    def get(self, name: str) -> Callable:
        """Return the class registered as ``name``; a clear error lists close names."""
        try:
            return self._modules[name]
        except KeyError:
            close = difflib.get_close_matches(name, self._modules, n=5, cutoff=0.5)
            if not close:  # case-insensitive and substring matches catch 'resnet' for 'ResNet'
                low = name.lower()
                close = [k for k in self._modules if low in k.lower() or k.lower() in low][:5]
            hint = f' Did you mean: {", ".join(close)}?' if close else ''
            raise BuildError(f"'{name}' is not a registered {self.name} type.{hint}") from None

    def register_module(self, name: str | None = None, force: bool = False,
                        module: Callable | None = None):
        """Register a class under its own name (or ``name``); usable as a decorator."""

        def _register(obj: Callable) -> Callable:
            key = name or obj.__name__
            if not force and key in self._modules and self._modules[key] is not obj:
                raise KeyError(f'{key} is already registered in the {self.name} registry '
                               f'(by {self._modules[key].__module__})')
            self._modules[key] = obj
            return obj

        if module is not None:
            return _register(module)
        return _register

    def build(self, cfg: Mapping[str, Any], **default_args) -> Any:
        """Instantiate ``cfg['type']`` with the other keys as keyword arguments.

        ``default_args`` fill in arguments that ``cfg`` does not give. ``type`` may
        also be a class. A wrong argument name raises :class:`BuildError` naming the
        type and the argument (and the closest valid argument), before the
        constructor runs.
        """
        if not isinstance(cfg, Mapping):
            raise BuildError(f'{self.name} config must be a dict with a "type" key, '
                             f'got {type(cfg).__name__}: {cfg!r}')
        if 'type' not in cfg:
            raise BuildError(f'{self.name} config has no "type" key: {dict(cfg)!r}')
        args = dict(cfg)
        obj_type = args.pop('type')
        for key, value in default_args.items():
            args.setdefault(key, value)
        if isinstance(obj_type, str):
            obj_cls = self.get(obj_type)
        elif callable(obj_type):
            obj_cls = obj_type
        else:
            raise BuildError(f'{self.name} "type" must be a str or a class, got {obj_type!r}')
        type_name = getattr(obj_cls, '__name__', str(obj_cls))
        _check_arguments(obj_cls, type_name, args)
        try:
            return obj_cls(**args)
        except TypeError as e:
            # a class taking **kwargs passes them on (ResNetTSM -> ResNet): a wrong name
            # only surfaces in the parent's signature
            bad = re.search(r"unexpected keyword argument '(\w+)'", str(e))
            if bad and bad.group(1) in args:
                raise BuildError(_unexpected_message(type_name, bad.group(1),
                                                     _accepted_arguments(obj_cls))) from e
            _add_note(e, f'(while building {self.name} {type_name!r})')
            raise
        except Exception as e:
            _add_note(e, f'(while building {self.name} {type_name!r})')
            raise


def _add_note(e: BaseException, note: str) -> None:
    if hasattr(e, 'add_note'):  # Python >= 3.11
        e.add_note(note)


def _accepted_arguments(obj_cls: Callable) -> list[str]:
    """Keyword arguments of ``obj_cls`` and, for classes, of the ``__init__`` of its bases
    (where ``**kwargs`` are usually passed on)."""
    names: list[str] = []
    for klass in getattr(obj_cls, '__mro__', (obj_cls,)):
        init = klass.__init__ if isinstance(klass, type) else klass
        if init is object.__init__:
            continue
        try:
            params = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):
            continue
        names += [p.name for p in params if p.name != 'self' and p.name not in names and
                  p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)]
    return names


def _unexpected_message(type_name: str, key: str, accepted: list[str]) -> str:
    close = difflib.get_close_matches(key, accepted, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ''
    return (f"{type_name} got an unexpected argument '{key}'.{hint} "
            f"Valid arguments: {', '.join(accepted)}")


def _check_arguments(obj_cls: Callable, type_name: str, args: dict) -> None:
    try:
        sig = inspect.signature(obj_cls)
    except (TypeError, ValueError):  # builtins without a signature: let the call decide
        return
    params = sig.parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    accepted = [n for n, p in params.items()
                if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)]
    for key in args:
        if key not in accepted:
            raise BuildError(_unexpected_message(type_name, key, accepted))
    missing = [n for n, p in params.items()
               if p.default is inspect.Parameter.empty and n in accepted and n not in args
               and n != 'self']
    if missing:
        raise BuildError(f"{type_name} is missing required argument(s): {', '.join(missing)}")
