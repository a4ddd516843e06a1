"""The pipeline's configuration: which sources a run builds, and command-line overrides made typed.

Snakemake reads ``config.yaml`` and merges ``--config KEY=VALUE`` into it.  A nested override such as
``--config ingest='{n_shards: 8}'`` arrives with every leaf as a *string* (Snakemake parses nested values
with YAML's base loader), so the schema would refuse ``'8'`` as "not of type 'integer'".
:func:`coerce_to_schema` re-reads such string leaves as YAML scalars wherever the schema expects a
number, a boolean or null, before :func:`snakemake.utils.validate` checks the whole configuration.

:func:`active_sources` says which sources one run builds: ``source`` is one name or a list of names
(default: ``[seaa2023, sample]``, the real SEAA 2023 logs that ship with the project and the synthetic
sample for what those logs cannot support).
"""

from __future__ import annotations

from typing import Any

import yaml


class ConfigError(ValueError):
    """The configuration names something that does not exist or cannot work together."""


_SCALAR_TYPES = {"integer", "number", "boolean", "null"}


def _types(schema: dict) -> set[str]:
    """The JSON types a schema fragment allows (its own ``type`` and those of its oneOf/anyOf branches)."""
    t = schema.get("type", [])
    out = {t} if isinstance(t, str) else set(t)
    for branch in schema.get("oneOf", []) + schema.get("anyOf", []):
        out |= _types(branch)
    return out


def _scalar(value: str, types: set[str]) -> Any:
    """``value`` read as a YAML scalar when the schema allows the type it reads as, else unchanged."""
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        return value
    if isinstance(parsed, bool):
        ok = "boolean" in types and "string" not in types
    elif isinstance(parsed, int):
        ok = bool(types & {"integer", "number"})
    elif isinstance(parsed, float):
        ok = "number" in types
    else:
        ok = parsed is None and "null" in types and "string" not in types
    return parsed if ok else value


def _child_schema(schema: dict, key: str) -> dict | None:
    props = schema.get("properties", {})
    if key in props:
        return props[key]
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, dict) else None


def coerce_to_schema(value: Any, schema: dict | None) -> Any:
    """Return ``value`` with string leaves re-read as YAML where ``schema`` expects a scalar type.

    Parameters
    ----------
    value : any
        A configuration value (dicts and lists are walked recursively).
    schema : dict or None
        The JSON-schema fragment for ``value``.

    Returns
    -------
    any
        The same structure; a string leaf becomes an int, float, bool or None when the schema allows
        that type and the string parses as it; anything else is returned unchanged (and the schema
        validation that follows reports it, naming the key).

    Examples
    --------
    >>> schema = {"type": "object", "properties": {"n_shards": {"type": "integer"}}}
    >>> coerce_to_schema({"n_shards": "8"}, schema)
    {'n_shards': 8}
    >>> coerce_to_schema({"n_shards": "eight"}, schema)
    {'n_shards': 'eight'}
    """
    if schema is None:
        return value
    if isinstance(value, dict):
        return {k: coerce_to_schema(v, _child_schema(schema, k)) for k, v in value.items()}
    if isinstance(value, list):
        items = schema.get("items") if isinstance(schema.get("items"), dict) else None
        return [coerce_to_schema(v, items) for v in value]
    if isinstance(value, str) and _types(schema) & _SCALAR_TYPES:
        return _scalar(value, _types(schema))
    return value


def active_sources(config: dict) -> list[str]:
    """The sources one run builds, in order, from ``config["source"]`` (a name or a list of names).

    Raises
    ------
    ConfigError
        When a name is not an entry of ``config["sources"]``, the list is empty or repeats a name, or
        ``data_dir`` is given while more than one source is built (it is the path of one source).

    Examples
    --------
    >>> cfg = {"source": ["seaa2023", "sample"], "sources": {"seaa2023": {}, "sample": {}}}
    >>> active_sources(cfg)
    ['seaa2023', 'sample']
    >>> active_sources({**cfg, "source": "sample"})
    ['sample']
    """
    raw = config.get("source")
    names = [raw] if isinstance(raw, str) else list(raw or [])
    known = config.get("sources", {})
    if not names:
        raise ConfigError("config: `source` names no source; give one name or a list, e.g. --config source=sample")
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(
            f"config: source {', '.join(map(repr, unknown))} is not one of the configured sources: {', '.join(known)}"
        )
    if len(set(names)) != len(names):
        raise ConfigError(f"config: `source` repeats a name: {names}")
    if config.get("data_dir") and len(names) > 1:
        raise ConfigError(
            f"config: data_dir is the path of one source, but this run builds {len(names)} "
            f"({', '.join(names)}); pass --config source=NAME data_dir=PATH"
        )
    return names


def _describe(error) -> str:
    """One line for a jsonschema error: the dotted key, what is wrong, and what is allowed there."""
    where = ".".join(str(p) for p in error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed)) if isinstance(error.instance, dict) else []
        key = ".".join(filter(None, [where, extra[0] if extra else ""]))
        hint = f"; allowed here: {', '.join(allowed)}" if allowed else ""
        return f"config key `{key}` is not a setting of dlenergy{hint}"
    return f"config key `{where or '(top level)'}`: {error.message}"


def check_config(config: dict, schema: dict) -> None:
    """Raise :class:`ConfigError` with one line naming the key when ``config`` breaks ``schema``.

    Examples
    --------
    >>> schema = {"type": "object", "properties": {"ingest": {"type": "object",
    ...           "properties": {"n_shards": {"type": "integer"}}, "additionalProperties": False}}}
    >>> check_config({"ingest": {"n_shards": 4}}, schema)
    >>> check_config({"ingest": {"n_shard": 4}}, schema)
    Traceback (most recent call last):
    ...
    dlenergy.config.ConfigError: config key `ingest.n_shard` is not a setting of dlenergy; allowed here: n_shards
    """
    import jsonschema

    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise ConfigError(_describe(jsonschema.exceptions.best_match(errors)) + more)
