"""What the `goonline` binary accepts, read from its sources (server/src).

Flags are clap derive attributes: `#[arg(long ...)]` on a field makes
`--field-name` (or the name given with `long = "..."`), `env = "GOONLINE_X"`
its variable. Subcommands are the variants of enums deriving `Subcommand`.
Reading the sources instead of running `goonline --help` keeps the check free
of a build; the patterns are the ones server/src/config.rs uses.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path

ARG_START = re.compile(r"^\s*#\[arg\(")
FIELD = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?([a-z_][a-z0-9_]*)\s*:")
LONG_NAMED = re.compile(r'\blong\s*=\s*"([a-z0-9-]+)"')
LONG_BARE = re.compile(r"\blong\b(?!\s*=)")
ENV_LITERAL = re.compile(r'"(GOONLINE_[A-Z0-9_]+)"')
SUBCOMMAND_ENUM = re.compile(r"#\[derive\([^)]*\bSubcommand\b[^)]*\)\]")
ROUTE = re.compile(r'"(/[a-z0-9_/{}.-]*)"')


@dataclass
class ServerCli:
    """Long flag names, environment variables and subcommands of the binary."""

    longs: set = field(default_factory=set)
    envs: set = field(default_factory=set)
    subcommands: set = field(default_factory=set)
    routes: set = field(default_factory=set)


def kebab(name: str) -> str:
    """`max_doc_bytes` -> `max-doc-bytes`, `UserCreate` -> `user-create`."""
    if "_" in name or name.islower():
        return name.replace("_", "-")
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def _arg_attributes(lines):
    """Yields (attribute text, field name) for each `#[arg(...)]` field."""
    i = 0
    while i < len(lines):
        if not ARG_START.match(lines[i]):
            i += 1
            continue
        text, depth = "", 0
        while i < len(lines):
            text += lines[i] + "\n"
            depth += lines[i].count("(") - lines[i].count(")")
            i += 1
            if depth <= 0:
                break
        # The field follows, after any further attributes and doc comments.
        while i < len(lines):
            stripped = lines[i].strip()
            if stripped.startswith(("///", "//", "#[")) or not stripped:
                i += 1
                continue
            m = FIELD.match(lines[i])
            if m:
                yield text, m.group(1)
            break


def _subcommands(source: str):
    """Variant names of every enum deriving `Subcommand`, in kebab case."""
    for m in SUBCOMMAND_ENUM.finditer(source):
        start = source.find("enum ", m.end())
        open_brace = source.find("{", start)
        if start < 0 or open_brace < 0:
            continue
        depth, j = 0, open_brace
        while j < len(source):
            depth += {"{": 1, "}": -1}.get(source[j], 0)
            if depth == 0:
                break
            j += 1
        body = source[open_brace + 1 : j]
        for line in body.splitlines():
            v = re.match(r"^\s*([A-Z][A-Za-z0-9]*)\s*(?:\(|,|\{|$)", line)
            if v:
                yield kebab(v.group(1))


def read_server_cli(src_dir: Path) -> ServerCli:
    """Collects the flags, variables, subcommands and routes under `src_dir`."""
    cli = ServerCli()
    for path in sorted(src_dir.rglob("*.rs")):
        source = path.read_text()
        lines = source.splitlines()
        for attr, name in _arg_attributes(lines):
            named = LONG_NAMED.search(attr)
            if named:
                cli.longs.add(named.group(1))
            elif LONG_BARE.search(attr):
                cli.longs.add(kebab(name))
        cli.envs.update(ENV_LITERAL.findall(source))
        cli.subcommands.update(_subcommands(source))
        cli.routes.update(ROUTE.findall(source))
    # clap adds these to every command.
    cli.longs.update({"help", "version"})
    return cli


def check_invocation(cli: ServerCli, args, where: str):
    """Problems with one `goonline ARGS...` invocation."""
    problems = []
    args = [str(a) for a in args]
    if not args:
        return [f"{where}: runs goonline with no subcommand"]
    if args[0] not in cli.subcommands:
        problems.append(
            f"{where}: `{args[0]}` is not a goonline subcommand "
            f"(known: {', '.join(sorted(cli.subcommands))})"
        )
    for a in args:
        if a.startswith("--"):
            name = a[2:].split("=", 1)[0]
            if name not in cli.longs:
                problems.append(f"{where}: flag --{name} is not defined in server/src")
    return problems


def check_env_names(cli: ServerCli, names, where: str):
    """Problems with GOONLINE_* variable names the server does not read."""
    return [
        f"{where}: variable {n} is not read by the server (no `env = \"{n}\"` in server/src)"
        for n in names
        if n.startswith("GOONLINE_") and n not in cli.envs
    ]
