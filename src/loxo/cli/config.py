"""The CLI's own settings file: the token ``loxo auth login`` saved, per server.

``$LOXO_CONFIG``, else ``$XDG_CONFIG_HOME/loxo/config.json``, else
``~/.config/loxo/config.json``. It holds secrets, so it is written 0600, and atomically
(a temp file renamed into place) so a crash never leaves half of it::

    {"servers": {"http://127.0.0.1:8080": {"token": "loxo_..."}}}
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from loxo.errors import InvalidArgument


def config_path() -> Path:
    if os.environ.get("LOXO_CONFIG"):
        return Path(os.environ["LOXO_CONFIG"])
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "loxo" / "config.json"


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"config file {path} is not valid JSON ({exc}); fix or delete it") from None
    if not isinstance(data, dict):
        raise InvalidArgument(f"config file {path} should hold a JSON object; fix or delete it")
    return data


def saved_token(address: str | None) -> str | None:
    """The token saved for the server at ``address`` (an http URL), if any."""
    if not address:
        return None
    entry = _load(config_path()).get("servers", {}).get(address, {})
    token = entry.get("token") if isinstance(entry, dict) else None
    return token if isinstance(token, str) and token else None


def save_token(address: str, token: str | None) -> Path:
    """Remember ``token`` for ``address`` (None forgets it); returns the file written."""
    path = config_path()
    data = _load(path)
    servers = data.setdefault("servers", {})
    if token:
        servers[address] = {"token": token}
    else:
        servers.pop(address, None)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(data, out, indent=2)
        out.write("\n")
    os.replace(temp, path)
    return path
