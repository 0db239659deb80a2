"""Loading hub datasets. Only network and not-found errors become `HubUnavailable` (a one-line UserError
that `data: auto` may fall back from); any other error is a bug and propagates."""

from __future__ import annotations

import importlib
import socket
import urllib.error

from groundfloor.errors import UserError


class HubUnavailable(UserError):
    """The hub, or a dataset on it, could not be reached or found."""


OPTIONAL_ERRORS = (("huggingface_hub.errors", "HfHubHTTPError"), ("huggingface_hub.errors", "EntryNotFoundError"),
                   ("requests.exceptions", "RequestException"), ("httpx", "TransportError"),
                   ("httpx2", "TransportError"))


def network_errors() -> tuple[type[BaseException], ...]:
    """The exception types that mean "unreachable or not found" (not a bug in the loader)."""
    errs: list[type[BaseException]] = [ConnectionError, TimeoutError, FileNotFoundError, socket.gaierror,
                                       urllib.error.URLError]
    for module, name in OPTIONAL_ERRORS:
        try:
            errs.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):  # that client library (or name) is not installed: nothing to catch
            continue
    return tuple(errs)


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:160]}" if text else type(e).__name__


def load_hub_split(task_id: str, path: str, name: str | None, split: str, offline: bool, revision: str | None = None):
    """`datasets.load_dataset(path, name, split=split, revision=revision)`; HubUnavailable when offline, unreachable
    or not found."""
    if offline:
        raise HubUnavailable(f"task '{task_id}' needs the hub dataset '{path}' ({split}), and the hub is unreachable "
                             "(offline); run it online or pick an offline task")
    import datasets

    try:
        return datasets.load_dataset(path, name, split=split, **({"revision": revision} if revision else {}))
    except network_errors() as e:
        raise HubUnavailable(f"task '{task_id}': could not load hub dataset '{path}' ({split}): "
                             f"{_first_line(e)}") from None
