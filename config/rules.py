"""Load and check every region rule file; the service refuses to start on any error.

`load_rulebook(config_dir)` reads `config_dir/regions/*.toml`. A file's name is its region's name.
`default.toml` is the root: every other file inherits from it, or from the region named by its `inherits`
key, and overrides rules by name, key by key. Every problem in every file is collected and raised as one
`RuleFileError`, one line per problem: file, key, reason.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from pydantic import ValidationError

from config.region_rules import RegionRules, ResolvedRule
from config.reminder_policy import RULE_BACKED, deep_merge, policy_errors, rule_defaults, validate_policy
from config.rule_schema import NUMBER_KEYS, RULE_MODELS, DeviationRule, Document, FileHeader, Rule, Source

DEFAULT = "default"
_REGION_FILE = re.compile(r"^[a-z0-9_]{1,64}$")
_RULE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# Kinds that name one number per region; two enabled rules of one of these would make the engine guess.
_MANY_ALLOWED = {"procedure", "deviation"}


@dataclass(frozen=True, order=True)
class RuleProblem:
    file: str
    key: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.key or '(file)'}: {self.reason}"


class RuleFileError(Exception):
    """Every problem found in the rule files, one per line."""

    def __init__(self, problems: Iterable[RuleProblem]) -> None:
        self.problems = sorted(set(problems))
        lines = "\n".join(str(problem) for problem in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in the region rule files:\n{lines}")


class UnknownRegionError(KeyError):
    pass


class RuleBook:
    """Every region's rules, resolved and checked."""

    def __init__(self, regions: Mapping[str, RegionRules]) -> None:
        self._regions = dict(regions)

    def region(self, name: str) -> RegionRules:
        try:
            return self._regions[name]
        except KeyError:
            raise UnknownRegionError(f"no rule file for region {name!r}") from None

    def names(self) -> list[str]:
        """The regions a case may name: every rule file except the default it inherits from."""
        return sorted(name for name in self._regions if name != DEFAULT)

    def all_rules(self) -> list[RegionRules]:
        """The default first, then every region in name order."""
        return [self._regions[DEFAULT], *(self._regions[name] for name in self.names())]


@dataclass
class _File:
    """A parsed file. A broken header leaves `header` empty but its rules are still checked."""

    name: str
    path: Path
    header: FileHeader | None
    inherits: str | None
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class _Merged:
    """A rule's keys after inheritance, each with the file that set it."""

    values: dict[str, Any] = field(default_factory=dict)
    key_origin: dict[str, str] = field(default_factory=dict)
    origin: str = DEFAULT


def load_rulebook(config_dir: Path) -> RuleBook:
    regions_dir = config_dir / "regions"
    problems: list[RuleProblem] = []
    if not regions_dir.is_dir():
        raise RuleFileError([RuleProblem(str(regions_dir), "", "folder not found")])
    files: dict[str, _File] = {}
    for path in sorted(regions_dir.glob("*.toml")):
        loaded = _read_file(path, problems)
        if loaded is not None:
            files[loaded.name] = loaded
    if DEFAULT not in files and not any(p.file.endswith(f"{DEFAULT}.toml") for p in problems):
        problems.append(RuleProblem(str(regions_dir / f"{DEFAULT}.toml"), "", "file not found"))
    chains = _chains(files, problems)
    regions: dict[str, RegionRules] = {}
    for name, chain in chains.items():
        resolved = _resolve(chain, files, problems)
        if resolved is not None:
            regions[name] = resolved
    if problems:
        raise RuleFileError(problems)
    return RuleBook(regions)


def _read_file(path: Path, problems: list[RuleProblem]) -> _File | None:
    file = str(path)
    name = path.stem
    if not _REGION_FILE.match(name):
        problems.append(RuleProblem(file, "", "a region file name uses only a-z, 0-9 and _"))
        return None
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        problems.append(RuleProblem(file, "", f"not valid TOML: {exc}"))
        return None
    try:
        header = FileHeader.model_validate(raw)
    except ValidationError as exc:
        problems.extend(_problems(file, exc))
        header = None
    rules: dict[str, dict[str, Any]] = {}
    raw_rules = raw.get("rules", {})
    if isinstance(raw_rules, dict):
        for rule_name, table in raw_rules.items():
            if not _RULE_NAME.match(rule_name):
                problems.append(
                    RuleProblem(
                        file, f"rules.{rule_name}", "a rule name starts with a-z and uses a-z, 0-9, _"
                    )
                )
            elif isinstance(table, dict):
                rules[rule_name] = table
    inherits = raw.get("inherits")
    inherits = inherits if isinstance(inherits, str) else None
    if name == DEFAULT and inherits is not None:
        problems.append(
            RuleProblem(file, "inherits", "the default file is the root and inherits from nothing")
        )
    return _File(name=name, path=path, header=header, inherits=inherits, rules=rules)


def _chains(files: Mapping[str, _File], problems: list[RuleProblem]) -> dict[str, tuple[str, ...]]:
    """Each region's files from itself up to the default, or nothing if its inheritance is broken."""
    chains: dict[str, tuple[str, ...]] = {}
    for name, file in files.items():
        chain = [name]
        current = file
        while current.name != DEFAULT:
            parent = current.inherits or DEFAULT
            if parent not in files:
                if parent != DEFAULT:
                    problems.append(RuleProblem(str(current.path), "inherits", f"unknown region {parent!r}"))
                break
            if parent in chain:
                problems.append(
                    RuleProblem(
                        str(current.path), "inherits", f"inheritance loops: {' -> '.join([*chain, parent])}"
                    )
                )
                break
            chain.append(parent)
            current = files[parent]
        else:
            chains[name] = tuple(chain)
    return chains


def _resolve(
    chain: tuple[str, ...], files: Mapping[str, _File], problems: list[RuleProblem]
) -> RegionRules | None:
    documents: dict[str, Document] = {}
    for name in chain:
        header = files[name].header
        if header is not None:
            documents[name] = header.document
    merged: dict[str, _Merged] = {}
    for name in reversed(chain):
        file = files[name]
        for rule_name, table in file.rules.items():
            _override(merged, rule_name, table, file, problems)
    resolved: dict[str, ResolvedRule[Rule]] = {}
    for rule_name, rule in merged.items():
        typed = _typed_rule(rule_name, rule, files, problems)
        if typed is None or rule.origin not in documents:
            continue
        source = typed.source or documents[rule.origin].as_source()
        number_file = _number_origin(rule, chain)
        number_source = (
            None if number_file is None else _number_source(files[number_file], rule_name, documents)
        )
        resolved[rule_name] = ResolvedRule(rule_name, rule.origin, typed, source, number_source)
        if number_file is not None:
            _check_default_is_should(rule_name, rule, number_file, typed, files, problems)
    _check_one_per_kind(resolved, files, problems)
    _check_one_deviation_rule_per_kind(resolved, files, problems)
    own = files[chain[0]].header
    if own is None or len(documents) < len(chain):
        return None
    # Each file is the first of its own chain, so checking only that one reports each mistake once.
    _check_policy_table(files[chain[0]], own.reminder_policy, problems)
    settings: dict[str, Any] = {}
    for name in reversed(chain):
        header = files[name].header
        if header is not None:
            settings = deep_merge(settings, header.reminder_policy)
    region = RegionRules(
        name=chain[0],
        display_name=own.name,
        chain=chain,
        documents=documents,
        rules=resolved,
        policy_settings=settings,
    )
    try:
        validate_policy(rule_defaults(region))
    except ValidationError as exc:
        problems.extend(
            RuleProblem(str(files[chain[0]].path), f"reminder_policy.{error.location}", error.message)
            for error in policy_errors(exc)
        )
        return None
    return region


def _number_origin(rule: _Merged, chain: tuple[str, ...]) -> str | None:
    """The file that last set one of the rule's number keys (nearest the region), or None: no number."""
    files = {origin for key, origin in rule.key_origin.items() if key in NUMBER_KEYS}
    return min(files, key=chain.index) if files else None


def _number_source(file: _File, rule_name: str, documents: Mapping[str, Document]) -> Source | None:
    """Where the file that set a number took it from: the rule's own `source`, else the file's document."""
    table = file.rules.get(rule_name, {})
    if "source" in table:
        try:
            return Source.model_validate(table["source"])
        except ValidationError:
            return None  # reported where the rule itself is checked
    document = documents.get(file.name)
    return document.as_source() if document is not None else None


def _check_default_is_should(
    rule_name: str,
    rule: _Merged,
    number_file: str,
    typed: Rule,
    files: Mapping[str, _File],
    problems: list[RuleProblem],
) -> None:
    """A number no source gives is sipvakt's own default, and a default is never more than a `should`,
    even where a region's own rule names the duty it counts."""
    sipvakt_number = number_file == DEFAULT and "source" not in files[DEFAULT].rules.get(rule_name, {})
    if sipvakt_number and typed.obligation == "must":
        blamed = rule.key_origin.get("obligation", rule.origin)
        problems.append(
            RuleProblem(
                str(files[blamed].path),
                f"rules.{rule_name}.obligation",
                "the rule's number is sipvakt's default, which no source gives: it is a 'should'; set "
                "the number from the document with its own keys, or the obligation to 'should'",
            )
        )


def _check_one_deviation_rule_per_kind(
    resolved: Mapping[str, ResolvedRule[Rule]], files: Mapping[str, _File], problems: list[RuleProblem]
) -> None:
    """Each kind of deviation has at most one reportable rule and one escalation rule."""
    seen: dict[tuple[str, bool], ResolvedRule[Rule]] = {}
    for rule in resolved.values():
        if not rule.rule.enabled or not isinstance(rule.rule, DeviationRule):
            continue
        for kind in rule.rule.covers:
            earlier = seen.setdefault((kind, rule.rule.reportable), rule)
            if earlier is not rule:
                problems.append(
                    RuleProblem(
                        str(files[rule.origin].path),
                        f"rules.{rule.name}.covers",
                        f"{kind!r} is already covered by {earlier.qualified_name} "
                        f"(reportable = {str(rule.rule.reportable).lower()})",
                    )
                )


def _check_policy_table(file: _File, table: Mapping[str, Any], problems: list[RuleProblem]) -> None:
    """A number that a rule carries is set in that rule, never twice."""
    for (section, key), kind in RULE_BACKED.items():
        if isinstance(table.get(section), Mapping) and key in table[section]:
            problems.append(
                RuleProblem(
                    str(file.path),
                    f"reminder_policy.{section}.{key}",
                    f"set by the rule of kind '{kind}'; change that rule instead",
                )
            )
    if "working_hours" in table:
        problems.append(
            RuleProblem(
                str(file.path),
                "reminder_policy.working_hours",
                "set by the rule of kind 'send_window'; change that rule instead",
            )
        )


def _override(
    merged: dict[str, _Merged],
    rule_name: str,
    table: dict[str, Any],
    file: _File,
    problems: list[RuleProblem],
) -> None:
    current = merged.get(rule_name)
    if current is None:
        merged[rule_name] = _Merged(dict(table), dict.fromkeys(table, file.name), file.name)
        return
    key = f"rules.{rule_name}"
    if "kind" in table and table["kind"] != current.values.get("kind"):
        problems.append(
            RuleProblem(
                str(file.path),
                f"{key}.kind",
                f"an override cannot change the kind (inherited: "
                f"{current.values.get('kind')!r}); give the rule another name",
            )
        )
    if "phrase" not in table:
        problems.append(
            RuleProblem(str(file.path), f"{key}.phrase", "an override must quote its own document's phrase")
        )
    values = dict(current.values)
    origins = dict(current.key_origin)
    values.update(table)
    origins.update(dict.fromkeys(table, file.name))
    if "source" not in table:
        # The phrase now comes from this file's document; an inherited source would misquote it.
        values.pop("source", None)
        origins.pop("source", None)
    merged[rule_name] = _Merged(values, origins, file.name)


def _typed_rule(
    rule_name: str, rule: _Merged, files: Mapping[str, _File], problems: list[RuleProblem]
) -> Rule | None:
    key = f"rules.{rule_name}"
    kind = rule.values.get("kind")
    if kind is None:
        problems.append(RuleProblem(str(files[rule.origin].path), f"{key}.kind", "missing key (required)"))
        return None
    model = RULE_MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        kind_file = rule.key_origin.get("kind", rule.origin)
        known = ", ".join(sorted(RULE_MODELS))
        problems.append(
            RuleProblem(str(files[kind_file].path), f"{key}.kind", f"unknown kind {kind!r}; one of: {known}")
        )
        return None
    try:
        typed = model.model_validate(rule.values)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            first = str(error["loc"][0]) if error["loc"] else ""
            blamed = rule.key_origin.get(first, rule.origin)
            problems.extend(_problems(str(files[blamed].path), [error], prefix=key))
        return None
    return cast(Rule, typed)


def _check_one_per_kind(
    resolved: Mapping[str, ResolvedRule[Rule]], files: Mapping[str, _File], problems: list[RuleProblem]
) -> None:
    seen: dict[str, ResolvedRule[Rule]] = {}
    for rule in resolved.values():
        kind = rule.rule.kind
        if not rule.rule.enabled or kind in _MANY_ALLOWED:
            continue
        earlier = seen.get(kind)
        if earlier is not None:
            problems.append(
                RuleProblem(
                    str(files[rule.origin].path),
                    f"rules.{rule.name}.kind",
                    f"a second enabled rule of kind {kind!r} (the other: {earlier.qualified_name}); "
                    f"override that rule by its name or set enabled = false on one",
                )
            )
        else:
            seen[kind] = rule


def _problems(file: str, errors: ValidationError | list[Any], prefix: str = "") -> list[RuleProblem]:
    found = errors.errors(include_url=False) if isinstance(errors, ValidationError) else errors
    problems = []
    for error in found:
        parts = [prefix] if prefix else []
        parts.extend(str(part) for part in error["loc"])
        problems.append(RuleProblem(file, ".".join(parts), _reason(error)))
    return problems


def _reason(error: Any) -> str:
    kind = error["type"]
    context = error.get("ctx") or {}
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "missing key (required)"
    if kind == "greater_than_equal":
        return f"must be {context.get('ge')} or more (got {error.get('input')!r})"
    if kind == "greater_than":
        return f"must be more than {context.get('gt')} (got {error.get('input')!r})"
    if kind == "less_than_equal":
        return f"must be {context.get('le')} or less (got {error.get('input')!r})"
    if kind.startswith("date"):
        return f"not a valid date (YYYY-MM-DD): {error.get('input')!r}"
    if kind.startswith("time"):
        return f"not a valid time (HH:MM): {error.get('input')!r}"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")
