"""Configuration files in the MMAction2 0.x (mmcv 1.x) format: ``.py``, ``.json`` and ``.yaml``.

A config is a set of top-level names (``model``, ``data``, ``optimizer``, ...). Python
configs are executed as code, so MMAction2 0.x files load unchanged; JSON and YAML
configs hold the same tree. Every format supports:

* ``_base_ = 'x.py'`` or a list of paths relative to the config's folder. Bases load
  recursively and are merged in order; the child is merged into the result (dicts
  recursively, anything else - lists included - replaced). Two bases of one config
  must not define the same top-level name. ``_delete_=True`` in a child dict replaces
  the base dict instead of merging into it; a ``None`` in the base is simply replaced.
* ``{{ fileDirname }}``, ``{{ fileBasename }}``, ``{{ fileBasenameNoExtension }}`` and
  ``{{ fileExtname }}``, substituted in the file text before it is parsed.
* ``{{ _base_.a.b }}`` references to the merged bases' values. A value that is exactly a
  reference becomes the base's value (of any type); a reference inside a longer string
  is replaced by the value's text.
* ``custom_imports = dict(imports=['pkg.mod'], allow_failed_imports=False)``: modules
  imported at load time (so that they can register their components).

:class:`Config` wraps the merged tree; nested dicts are :class:`ConfigDict` objects
whose keys are also attributes (``cfg.model.backbone.depth``). Command-line overrides
(``--cfg-options a.b=1``) are parsed by :func:`parse_cfg_options` / :class:`DictAction`
and applied with :meth:`Config.merge_from_dict`.
"""
from __future__ import annotations

import argparse
import copy
import difflib
import importlib
import json
import keyword
import logging
import math
import os
import re
import types
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

logger = logging.getLogger(__name__)

BASE_KEY = '_base_'
DELETE_KEY = '_delete_'
RESERVED_KEYS = ('filename', 'text', 'pretty_text')
_FORMATS = {'.py': 'py', '.json': 'json', '.yaml': 'yaml', '.yml': 'yaml'}
_PREDEFINED_VARS = ('fileDirname', 'fileBasename', 'fileBasenameNoExtension', 'fileExtname')
_BASE_REF = re.compile(r'\{\{\s*' + BASE_KEY + r'\.([\w.]+)\s*\}\}')
# Base references become these names before parsing; in Python configs they start with
# '__' so that they are dropped with the other private names after execution.
_PLACEHOLDER = re.compile(r'__base_ref_\d+__')
_LINE_WIDTH = 100


class ConfigError(Exception):
    """A config file, key or command-line option is malformed; the message names it."""


class ConfigDict(dict):
    """A dict whose keys can also be read and set as attributes.

    Dicts stored in it (also inside lists and tuples) become ``ConfigDict`` objects. A
    missing attribute raises ``AttributeError`` naming the key and the closest existing one.
    """

    def __init__(self, *args, **kwargs):
        super().__init__()
        self.update(*args, **kwargs)

    def __setitem__(self, key, value) -> None:
        super().__setitem__(key, _to_config_dict(value))

    def update(self, *args, **kwargs) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]

    def copy(self) -> ConfigDict:
        """A shallow copy that is a ``ConfigDict`` too."""
        return ConfigDict(self)

    def __copy__(self) -> ConfigDict:
        return self.copy()

    def __deepcopy__(self, memo: dict) -> ConfigDict:
        result = ConfigDict()
        memo[id(self)] = result
        for key, value in self.items():
            dict.__setitem__(result, copy.deepcopy(key, memo), copy.deepcopy(value, memo))
        return result

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(_missing_key_message(name, self)) from None

    def __setattr__(self, name: str, value) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(_missing_key_message(name, self)) from None

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | {k for k in self if isinstance(k, str)})

    def to_dict(self) -> dict:
        """A copy made of plain dicts and lists (tuples stay tuples)."""
        return _to_plain(self)


def _missing_key_message(name: str, mapping: Mapping) -> str:
    keys = [k for k in mapping if isinstance(k, str)]
    close = difflib.get_close_matches(name, keys, n=1, cutoff=0.6)
    hint = f" Did you mean '{close[0]}'?" if close else ''
    return f"config has no key '{name}'.{hint} Keys: {', '.join(keys) or '(none)'}"


def _to_config_dict(value):
    if isinstance(value, ConfigDict):
        return value
    if isinstance(value, Mapping):
        return ConfigDict(value)
    if type(value) is list:
        return [_to_config_dict(v) for v in value]
    if type(value) is tuple:
        return tuple(_to_config_dict(v) for v in value)
    return value


def _to_plain(value, tuples_as_lists: bool = False):
    if isinstance(value, Mapping):
        return {k: _to_plain(v, tuples_as_lists) for k, v in value.items()}
    if type(value) is list or (tuples_as_lists and type(value) is tuple):
        return [_to_plain(v, tuples_as_lists) for v in value]
    if type(value) is tuple:
        return tuple(_to_plain(v, tuples_as_lists) for v in value)
    return value


# --------------------------------------------------------------------------- loading

def _file_format(suffix: str, name: str) -> str:
    try:
        return _FORMATS[suffix.lower()]
    except KeyError:
        raise ConfigError(f"{name}: unsupported config file type '{suffix}' "
                          f"(use .py, .json, .yaml or .yml)") from None


def _substitute_predefined_vars(source: str, path: Path) -> str:
    values = dict(fileDirname=path.parent.as_posix(), fileBasename=path.name,
                  fileBasenameNoExtension=path.stem, fileExtname=path.suffix)
    for var in _PREDEFINED_VARS:
        # a function replacement keeps backslashes in paths literal
        source = re.sub(r'\{\{\s*' + var + r'\s*\}\}', lambda _, v=values[var]: v, source)
    return source


def _inside_json_string(text: str, pos: int) -> bool:
    inside = escaped = False
    for char in text[:pos]:
        if escaped:
            escaped = False
        elif char == '\\' and inside:
            escaped = True
        elif char == '"':
            inside = not inside
    return inside


def _mark_base_refs(source: str, fmt: str) -> tuple[str, dict[str, str]]:
    """Replace each ``{{ _base_.x.y }}`` by a placeholder name; returns the text and
    {placeholder: 'x.y'}. The placeholder is a valid Python name and YAML scalar; in
    JSON a bare reference is quoted to make it a string."""
    refs: dict[str, str] = {}

    def replace(match: re.Match) -> str:
        name = f'__base_ref_{len(refs)}__'
        refs[name] = match.group(1)
        if fmt == 'json' and not _inside_json_string(source, match.start()):
            return f'"{name}"'
        return name

    return _BASE_REF.sub(replace, source), refs


def _exec_python(source: str, name: str, refs: Mapping[str, str]) -> dict:
    try:
        code = compile(source, name, 'exec', dont_inherit=True)
    except SyntaxError as e:
        line = (e.text or '').strip()
        raise ConfigError(f'{name}:{e.lineno}: invalid Python syntax in config: {e.msg}'
                          + (f'\n    {line}' if line else '')) from e
    # bare references evaluate to their placeholder strings, resolved after execution
    namespace: dict[str, Any] = {'__file__': name, '__name__': '__config__', **{p: p for p in refs}}
    try:
        exec(code, namespace)
    except Exception as e:
        if hasattr(e, 'add_note'):  # Python >= 3.11
            e.add_note(f'(while executing config file {name})')
        raise
    hidden = (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type)
    return {key: value for key, value in namespace.items()
            if not (isinstance(key, str) and key.startswith('__')) and not isinstance(value, hidden)}


def _parse(source: str, fmt: str, name: str, refs: Mapping[str, str]) -> dict:
    if fmt == 'py':
        cfg = _exec_python(source, name, refs)
    elif fmt == 'json':
        try:
            cfg = json.loads(source)
        except json.JSONDecodeError as e:
            raise ConfigError(f'{name}:{e.lineno}: invalid JSON in config: {e.msg}') from e
    else:
        try:
            cfg = yaml.safe_load(source)
        except yaml.YAMLError as e:
            mark = getattr(e, 'problem_mark', None)
            where = f'{name}:{mark.line + 1}' if mark is not None else name
            raise ConfigError(f'{where}: invalid YAML in config: {getattr(e, "problem", e)}') from e
        cfg = {} if cfg is None else cfg
    if not isinstance(cfg, dict):
        raise ConfigError(f'{name}: a config must be a mapping of names to values, '
                          f'got a {type(cfg).__name__}')
    return cfg


def _lookup(tree, dotted: str, name: str):
    value = tree
    for part in dotted.split('.'):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, (list, tuple)) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise ConfigError(f"{name}: '{{{{ {BASE_KEY}.{dotted} }}}}' does not exist in the "
                              f"config's bases ('{part}' not found)")
    return value


def _resolve_base_refs(value, refs: Mapping[str, str], base: Mapping, name: str):
    if isinstance(value, str):
        if value in refs:
            return copy.deepcopy(_lookup(base, refs[value], name))
        return _PLACEHOLDER.sub(
            lambda m: str(_lookup(base, refs[m.group()], name)) if m.group() in refs else m.group(),
            value)
    if isinstance(value, Mapping):
        return {k: _resolve_base_refs(v, refs, base, name) for k, v in value.items()}
    if type(value) in (list, tuple):
        return type(value)(_resolve_base_refs(v, refs, base, name) for v in value)
    return value


def _merge(child: Mapping, base, allow_list_keys: bool = False, prefix: str = ''):
    """``child`` merged into a copy of ``base`` (a dict, or a list when ``allow_list_keys``
    lets integer keys index it). Dicts merge recursively unless the child dict has
    ``_delete_=True``; other values replace the base's."""
    merged = list(base) if isinstance(base, list) else dict(base)
    for key, value in child.items():
        where = f'{prefix}{key}'
        if isinstance(merged, list):
            if not (isinstance(key, str) and key.isdigit()):
                raise ConfigError(f"'{where}': '{key}' is not an index into the list at '{prefix[:-1]}'")
            slot = int(key)
            if slot >= len(merged):
                raise ConfigError(f"'{where}': index {slot} is out of range for the list of "
                                  f"length {len(merged)} at '{prefix[:-1]}'")
        else:
            slot = key
        if isinstance(value, Mapping):
            value = dict(value)
            replace = value.pop(DELETE_KEY, False)
            old = merged[slot] if isinstance(merged, list) or slot in merged else None
            if old is not None and not replace:
                if isinstance(old, Mapping) or (allow_list_keys and isinstance(old, list)):
                    merged[slot] = _merge(value, old, allow_list_keys, f'{where}.')
                    continue
                raise ConfigError(f"'{where}': cannot merge a dict into the base value of type "
                                  f"{type(old).__name__} (set {DELETE_KEY}=True in the dict to "
                                  f"replace the base value)")
            value = _merge(value, {}, allow_list_keys, f'{where}.')  # drops nested _delete_ keys
        merged[slot] = value
    return merged


def _base_paths(bases, name: str, folder: Path) -> list[Path]:
    if isinstance(bases, (str, os.PathLike)):
        bases = [bases]
    if not isinstance(bases, (list, tuple)) or not all(isinstance(b, (str, os.PathLike)) for b in bases):
        raise ConfigError(f'{name}: {BASE_KEY} must be a path or a list of paths, got {bases!r}')
    return [Path(os.path.abspath(folder / os.path.expanduser(b))) for b in bases]


def _load_source(source: str, fmt: str, path: Path | None, chain: tuple[Path, ...]) -> tuple[dict, str]:
    """Parse ``source`` (the text of ``path``, or of an unnamed string) and merge its bases;
    ``chain`` holds the configs that inherit from it, to catch circular inheritance.

    Returns the merged dict and the source texts of the bases and the config, each after
    a line with its path, as mmcv's ``Config.text`` has them.
    """
    if path is None:
        name, folder, text, parsed = '<config string>', Path.cwd(), source, source
    else:
        name, folder, text = str(path), path.parent, f'{path}\n{source}'
        parsed = _substitute_predefined_vars(source, path)
        chain = (*chain, path)
    parsed, refs = _mark_base_refs(parsed, fmt)
    cfg = _parse(parsed, fmt, name, refs)

    base_dict: dict = {}
    owners: dict[Any, Path] = {}
    texts = []
    for base_path in _base_paths(cfg.pop(BASE_KEY, []), name, folder):
        if not base_path.is_file():
            raise FileNotFoundError(f'base config {base_path} not found (listed in {BASE_KEY} of {name})')
        if base_path in chain:
            cycle = ' -> '.join(str(p) for p in (*chain, base_path))
            raise ConfigError(f'{name}: circular {BASE_KEY} inheritance: {cycle}')
        sub_dict, sub_text = _load_file(base_path, chain)
        for key in sub_dict:
            if key in owners:
                raise ConfigError(f"{name}: the base configs {owners[key]} and {base_path} both "
                                  f"define '{key}'; a key may come from one base only")
            owners[key] = base_path
        base_dict.update(sub_dict)
        texts.append(sub_text)

    if refs:
        cfg = _resolve_base_refs(cfg, refs, base_dict, name)
    try:
        merged = _merge(cfg, base_dict)
    except ConfigError as e:
        raise ConfigError(f'{name}: {e}') from None
    return merged, '\n'.join([*texts, text])


def _load_file(path: Path, chain: tuple[Path, ...] = ()) -> tuple[dict, str]:
    fmt = _file_format(path.suffix, str(path))
    try:
        source = path.read_text(encoding='utf-8')
    except UnicodeDecodeError as e:
        raise ConfigError(f'{path}: config file is not UTF-8 text ({e.reason})') from e
    return _load_source(source, fmt, path, chain)


def _import_custom_modules(custom_imports, name: str) -> None:
    if not isinstance(custom_imports, Mapping):
        raise ConfigError(f'{name}: custom_imports must be a dict(imports=[...]), got {custom_imports!r}')
    unknown = set(custom_imports) - {'imports', 'allow_failed_imports'}
    if unknown:
        raise ConfigError(f"{name}: custom_imports has unknown key(s) {sorted(unknown)}; "
                          f"it takes 'imports' and 'allow_failed_imports'")
    imports = custom_imports.get('imports') or []
    imports = [imports] if isinstance(imports, str) else imports
    for module in imports:
        if not isinstance(module, str):
            raise ConfigError(f'{name}: custom_imports.imports must list module names, got {module!r}')
        try:
            importlib.import_module(module)
        except ImportError as e:
            if not custom_imports.get('allow_failed_imports', False):
                raise ImportError(f"{name}: custom_imports could not import '{module}': {e}") from e
            logger.warning("custom_imports of %s: could not import '%s' (%s), skipped", name, module, e)


# --------------------------------------------------------------------------- the Config

class Config:
    """A loaded configuration: a nested dict with attribute access.

    Example::

        cfg = Config.fromfile('configs/recognition/tsn/tsn_r50_1x1x3_100e_kinetics400_rgb.py')
        cfg.model.backbone.depth              # 50
        cfg.merge_from_dict({'data.videos_per_gpu': 8})
        cfg.dump('work_dirs/tsn/config.py')

    Unknown attributes fall through to the underlying :class:`ConfigDict`, so the dict
    methods (``get``, ``items``, ``pop``, ``update``, ...) work on the top level too.
    """

    def __init__(self, cfg_dict: Mapping | None = None, filename: str | os.PathLike | None = None,
                 cfg_text: str | None = None):
        if cfg_dict is None:
            cfg_dict = {}
        elif not isinstance(cfg_dict, Mapping):
            raise TypeError(f'cfg_dict must be a dict, got {type(cfg_dict).__name__}')
        for key in RESERVED_KEYS:
            if key in cfg_dict:
                raise ConfigError(f"{filename or 'config'}: '{key}' is reserved by Config and "
                                  f"cannot be a top-level key")
        if cfg_text is None:
            has_file = filename is not None and Path(filename).is_file()
            cfg_text = Path(filename).read_text(encoding='utf-8') if has_file else ''
        fmt = _FORMATS.get(Path(filename).suffix.lower(), 'py') if filename is not None else 'py'
        object.__setattr__(self, '_cfg_dict', ConfigDict(cfg_dict))
        object.__setattr__(self, '_filename', None if filename is None else str(filename))
        object.__setattr__(self, '_text', cfg_text)
        object.__setattr__(self, '_format', fmt)

    @classmethod
    def fromfile(cls, filename: str | os.PathLike, import_custom_modules: bool = True) -> Config:
        """Load a ``.py``, ``.json``, ``.yaml`` or ``.yml`` config file and its bases."""
        path = Path(os.path.abspath(os.path.expanduser(filename)))
        if not path.is_file():
            raise FileNotFoundError(f'config file {path} not found')
        cfg_dict, text = _load_file(path)
        if import_custom_modules and cfg_dict.get('custom_imports'):
            _import_custom_modules(cfg_dict['custom_imports'], str(path))
        return cls(cfg_dict, filename=str(filename), cfg_text=text)

    @classmethod
    def fromstring(cls, text: str, file_format: str, import_custom_modules: bool = True) -> Config:
        """Load a config from its text; ``file_format`` is '.py', '.json', '.yaml' or '.yml'
        (the dot is optional). ``_base_`` paths are relative to the working directory; the
        file-name variables (``{{ fileDirname }}``...) need a file and are left as they are."""
        suffix = file_format if file_format.startswith('.') else f'.{file_format}'
        fmt = _file_format(suffix, '<config string>')
        cfg_dict, cfg_text = _load_source(text, fmt, None, ())
        if import_custom_modules and cfg_dict.get('custom_imports'):
            _import_custom_modules(cfg_dict['custom_imports'], '<config string>')
        cfg = cls(cfg_dict, cfg_text=cfg_text)
        object.__setattr__(cfg, '_format', fmt)
        return cfg

    @property
    def filename(self) -> str | None:
        """The path the config was loaded from (as given), or None."""
        return self._filename

    @property
    def text(self) -> str:
        """The source text of the config and its bases (each after a line with its path)."""
        return self._text

    @property
    def pretty_text(self) -> str:
        """The merged config as a readable Python config file."""
        return _format_py(self._cfg_dict)

    def to_dict(self) -> dict:
        """The config as plain dicts and lists (tuples stay tuples)."""
        return _to_plain(self._cfg_dict)

    def merge_from_dict(self, options: Mapping[str, Any], allow_list_keys: bool = True) -> None:
        """Merge ``{'a.b.c': value}`` options into the config (dotted keys address nested
        dicts; with ``allow_list_keys`` an integer component indexes into a list, as in
        ``'data.train.pipeline.0.type'``). A dict value merges into the existing dict."""
        tree: dict = {}
        for full_key, value in options.items():
            node = tree
            *parents, leaf = str(full_key).split('.')
            for part in parents:
                child = node.get(part, {})
                if not isinstance(child, Mapping):
                    raise ConfigError(f"option '{full_key}' conflicts with the option that sets "
                                      f"'{part}' itself")
                node[part] = dict(child)  # a copy: the caller's dicts stay as they are
                node = node[part]
            node[leaf] = value
        for full_key in options:
            _warn_if_misspelt(str(full_key), self._cfg_dict)
        merged = _merge(tree, self._cfg_dict, allow_list_keys)
        object.__setattr__(self, '_cfg_dict', ConfigDict(merged))

    def dump(self, path: str | os.PathLike | None = None) -> str | None:
        """Write the config to ``path`` (.py, .json, .yaml or .yml, by its extension), or
        return its text in the format of the file it came from when ``path`` is None."""
        fmt = self._format if path is None else _file_format(Path(path).suffix, str(path))
        if fmt == 'py':
            text = self.pretty_text
        elif fmt == 'json':
            text = json.dumps(_to_plain(self._cfg_dict, tuples_as_lists=True), indent=4) + '\n'
        else:
            text = yaml.safe_dump(_to_plain(self._cfg_dict, tuples_as_lists=True),
                                  sort_keys=False, allow_unicode=True)
        if path is None:
            return text
        Path(path).write_text(text, encoding='utf-8')
        return None

    # dict-like behaviour, delegated to the ConfigDict

    def __getattr__(self, name: str):
        if name.startswith('__') or name in ('_cfg_dict', '_filename', '_text', '_format'):
            raise AttributeError(name)  # keeps copy/pickle from recursing before __init__
        return getattr(self._cfg_dict, name)

    def __setattr__(self, name: str, value) -> None:
        if name in RESERVED_KEYS:
            raise AttributeError(f"'{name}' is a read-only Config property")
        self._cfg_dict[name] = value

    def __delattr__(self, name: str) -> None:
        delattr(self._cfg_dict, name)

    def __getitem__(self, key):
        return self._cfg_dict[key]

    def __setitem__(self, key, value) -> None:
        if key in RESERVED_KEYS:
            raise KeyError(f"'{key}' is reserved by Config and cannot be a top-level key")
        self._cfg_dict[key] = value

    def __delitem__(self, key) -> None:
        del self._cfg_dict[key]

    def __contains__(self, key) -> bool:
        return key in self._cfg_dict

    def __iter__(self) -> Iterator:
        return iter(self._cfg_dict)

    def __len__(self) -> int:
        return len(self._cfg_dict)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | {k for k in self._cfg_dict if isinstance(k, str)})

    def __copy__(self) -> Config:
        return self._replace_dict(self._cfg_dict.copy())

    def __deepcopy__(self, memo: dict) -> Config:
        return self._replace_dict(copy.deepcopy(self._cfg_dict, memo))

    def _replace_dict(self, cfg_dict: ConfigDict) -> Config:
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        object.__setattr__(new, '_cfg_dict', cfg_dict)
        return new

    def __str__(self) -> str:
        return self.pretty_text

    def __repr__(self) -> str:
        return f'Config (path: {self.filename}):\n{self.pretty_text}'


# --------------------------------------------------------------------------- Python dump

def _warn_if_misspelt(full_key: str, tree: Mapping) -> None:
    """Log a warning when an override adds a key that is close to an existing one
    (``optimzer.lr=...`` next to ``optimizer``): new keys are legal, typos are likely."""
    node: Any = tree
    for depth, part in enumerate(full_key.split('.')):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
            continue
        if not isinstance(node, Mapping):
            return
        if part not in node:
            close = difflib.get_close_matches(part, [str(k) for k in node], n=1, cutoff=0.75)
            if close:
                where = '.'.join(full_key.split('.')[:depth] + [close[0]])
                logger.warning("override '%s' adds the new key '%s'; did you mean '%s'?",
                               full_key, part, where)
            return
        node = node[part]


def _is_identifier(key) -> bool:
    return isinstance(key, str) and key.isidentifier() and not keyword.iskeyword(key)


def _flat_repr(value) -> str:
    """``value`` as one line of Python source."""
    if isinstance(value, Mapping):
        if all(_is_identifier(k) for k in value):
            return 'dict(' + ', '.join(f'{k}={_flat_repr(v)}' for k, v in value.items()) + ')'
        return '{' + ', '.join(f'{_flat_repr(k)}: {_flat_repr(v)}' for k, v in value.items()) + '}'
    if type(value) is list:
        return '[' + ', '.join(_flat_repr(v) for v in value) + ']'
    if type(value) is tuple:
        return '(' + ', '.join(_flat_repr(v) for v in value) + (',)' if len(value) == 1 else ')')
    if isinstance(value, float) and not math.isfinite(value):
        return f"float('{value}')"
    return repr(value)


def _py_repr(value, indent: int, used: int) -> str:
    """``value`` as Python source, one item per line where a single line would not fit;
    ``indent`` is the indentation of the line and ``used`` the columns taken before it."""
    flat = _flat_repr(value)
    container = isinstance(value, Mapping) or type(value) in (list, tuple)
    if indent + used + len(flat) <= _LINE_WIDTH or not container or not value:
        return flat
    inner = indent + 4
    if isinstance(value, Mapping) and all(_is_identifier(k) for k in value):
        opener, closer = 'dict(', ')'
        items = [f'{k}={_py_repr(v, inner, len(k) + 1)}' for k, v in value.items()]
    elif isinstance(value, Mapping):
        opener, closer = '{', '}'
        items = []
        for k, v in value.items():
            key = _flat_repr(k)
            items.append(f'{key}: {_py_repr(v, inner, len(key) + 2)}')
    else:
        opener, closer = ('[', ']') if type(value) is list else ('(', ')')
        items = [_py_repr(v, inner, 0) for v in value]
    body = ''.join(f'{" " * inner}{item},\n' for item in items)
    return f'{opener}\n{body}{" " * indent}{closer}'


def _format_py(cfg: Mapping) -> str:
    lines = []
    for key, value in cfg.items():
        # a top-level name that is not an identifier (possible in JSON/YAML) can only be
        # set through the module namespace
        target = key if _is_identifier(key) else f'globals()[{key!r}]'
        lines.append(f'{target} = {_py_repr(value, 0, len(target) + 3)}')
    return '\n'.join(lines) + '\n'


# --------------------------------------------------------------------------- --cfg-options

def _split_top_level(text: str, option: str) -> list[str]:
    """Split ``text`` at the commas that are not inside brackets."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char in '([':
            depth += 1
        elif char in ')]':
            depth -= 1
            if depth < 0:
                raise ConfigError(f'cfg option {option!r}: unbalanced brackets')
        elif char == ',' and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if depth != 0:
        raise ConfigError(f'cfg option {option!r}: unbalanced brackets')
    parts.append(text[start:])
    if parts[-1].strip() == '':  # a trailing comma, as in '(1,)'
        parts.pop()
    return parts


def _closes_at_end(text: str) -> bool:
    """Whether the bracket that opens ``text`` is closed by its last character."""
    depth = 0
    for i, char in enumerate(text):
        depth += char in '(['
        depth -= char in ')]'
        if depth == 0:
            return i == len(text) - 1
    return False


def _parse_scalar(text: str):
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    if text.lower() in ('true', 'false'):
        return text.lower() == 'true'
    if text == 'None':
        return None
    return text


def _parse_option_value(text: str, option: str):
    text = text.strip().strip('\'"').strip()
    if text and text[0] in '([' and _closes_at_end(text):
        items = [_parse_option_value(part, option) for part in _split_top_level(text[1:-1], option)]
        return tuple(items) if text[0] == '(' else items
    parts = _split_top_level(text, option)
    if len(parts) > 1 or text.endswith(','):
        return [_parse_option_value(part, option) for part in parts]
    return _parse_scalar(text)


def parse_cfg_options(options: Iterable[str]) -> dict[str, Any]:
    """Parse ``KEY=VALUE`` strings (as given to ``--cfg-options``) into a dict.

    Values become int, float, bool (``true``/``false``, any case), None (``None``) or
    str; ``[a,b]`` is a list, ``(a,b)`` a tuple (nested as deep as needed) and ``a,b,c``
    a list. The key ends at the first ``=``.

    Example: ``parse_cfg_options(['lr=0.1', 'workflow=[(train,1),(val,1)]'])`` gives
    ``{'lr': 0.1, 'workflow': [('train', 1), ('val', 1)]}``.
    """
    parsed: dict[str, Any] = {}
    for option in options:
        key, sep, value = option.partition('=')
        if not sep or not key.strip():
            raise ConfigError(f'cfg option {option!r} is not of the form KEY=VALUE')
        parsed[key.strip()] = _parse_option_value(value, option)
    return parsed


class DictAction(argparse.Action):
    """argparse action that collects ``KEY=VALUE`` arguments into a dict (see
    :func:`parse_cfg_options`); repeated uses of the option add to the same dict.

    Usage: ``parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})``.
    """

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        values = [values] if isinstance(values, str) else values
        try:
            options = parse_cfg_options(values)
        except ConfigError as e:
            parser.error(str(e))
        merged = dict(getattr(namespace, self.dest, None) or {})
        merged.update(options)
        setattr(namespace, self.dest, merged)
