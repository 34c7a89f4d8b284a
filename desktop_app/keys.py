"""API keys: explicit, then the OS keychain (keyring), then the provider's environment variable.

A key lives only in the keychain or the environment: never in settings, SQLite, logs or error
text. The names of the keys set here (never the keys) are kept in a small file, because keychains
cannot list what an application stored.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from desktop_app import paths
from desktop_app.errors import UserError

SERVICE = "ModelScout"

# The environment variables people already have set for each provider or well-known host.
ENV_VARS = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "openrouter.ai": "OPENROUTER_API_KEY",
    "api.groq.com": "GROQ_API_KEY",
    "api.together.xyz": "TOGETHER_API_KEY",
    "api.mistral.ai": "MISTRAL_API_KEY",
    "api.deepseek.com": "DEEPSEEK_API_KEY",
    "api.fireworks.ai": "FIREWORKS_API_KEY",
}


class KeyStoreError(UserError):
    pass


@dataclass(frozen=True)
class KeyLookup:
    """Where a key was found; `key` never shows in repr, logs or tracebacks."""

    name: str
    key: str | None = field(default=None, repr=False)
    source: str | None = None  # "given explicitly", "the OS keychain", "$OPENAI_API_KEY", or None


def name_for_url(url: str) -> str:
    """The key name for a server: its host, with the port when it is not the default."""
    parts = urlsplit(url)
    host = (parts.hostname or url).lower()
    return f"{host}:{parts.port}" if parts.port else host


def is_private_url(url: str) -> bool:
    """A server on this machine or the local network: no key needed, nothing paid per call."""
    host = (urlsplit(url).hostname or "").lower()
    if host in ("localhost", "") or host.endswith(".local"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local


def env_var(name: str) -> str:
    """The environment variable holding the key for `name`: the one people already use for a known
    provider, else MODELSCOUT_<NAME>_API_KEY (for a server's host: MODELSCOUT_127_0_0_1_8080_API_KEY)."""
    known = ENV_VARS.get(name) or ENV_VARS.get(name.split(":")[0])
    if known:
        return known
    return "MODELSCOUT_" + re.sub(r"[^A-Z0-9]+", "_", name.upper()).strip("_") + "_API_KEY"


def env_hint(name: str) -> str:
    return f", or the {env_var(name)} environment variable"


def find(name: str, explicit: str | None = None, required: bool = True) -> KeyLookup:
    """The key for `name` from the first place that has one; without one, a plain error if required."""
    if explicit:
        return KeyLookup(name, explicit, "given explicitly")
    stored = _keychain_get(name)
    if stored:
        return KeyLookup(name, stored, "the OS keychain")
    var = env_var(name)
    if os.environ.get(var):
        return KeyLookup(name, os.environ[var], f"${var}")
    if required:
        raise KeyStoreError(f"no API key for {name}: set one with `modelscout keys set {name}` or in "
                        f"Settings > API keys{env_hint(name)}")
    return KeyLookup(name)


def store(name: str, key: str) -> None:
    """Put a key in the OS keychain."""
    key = key.strip()
    if not key:
        raise KeyStoreError(f"the key for {name} is empty; nothing was stored")
    if any(c.isspace() for c in key):
        raise KeyStoreError(f"the key for {name} contains spaces or line breaks; paste it again on one line")
    keyring = _keyring()
    try:
        keyring.set_password(SERVICE, name, key)
    except Exception as exc:  # noqa: BLE001 - keyring backends raise many kinds
        raise KeyStoreError(_no_keychain(name, exc)) from None
    _remember(name, True)


def delete(name: str) -> bool:
    """Remove a key from the OS keychain; False when there was none."""
    keyring = _keyring()
    try:
        keyring.delete_password(SERVICE, name)
        deleted = True
    except Exception as exc:  # noqa: BLE001
        if type(exc).__name__ != "PasswordDeleteError":
            raise KeyStoreError(_no_keychain(name, exc)) from None
        deleted = False
    _remember(name, False)
    return deleted


def known_names(extra: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Providers, every name a key was stored under here, and any the caller adds."""
    names = ["openai", "anthropic", *_remembered(), *extra]
    return list(dict.fromkeys(names))


def status(names: list[str]) -> list[KeyLookup]:
    """Where each name's key would come from (keys left out)."""
    found = []
    for name in names:
        lookup = find(name, required=False)
        found.append(KeyLookup(name, None, lookup.source))
    return found


def _keyring():  # imported late: keyring finds its backends at import, ~50 ms
    import keyring

    return keyring


def _keychain_get(name: str) -> str | None:
    try:
        return _keyring().get_password(SERVICE, name)
    except Exception:  # noqa: BLE001 - no usable keychain means no stored key, not a failure
        return None


def _no_keychain(name: str, exc: BaseException) -> str:
    return (f"cannot use the OS keychain to store the key for {name} ({type(exc).__name__}); on Linux "
            f"install and unlock a Secret Service keyring (GNOME Keyring, KWallet){env_hint(name)}")


def _names_file():
    return paths.config_dir() / "key-names.json"


def _remembered() -> list[str]:
    try:
        names = json.loads(_names_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []


def _remember(name: str, present: bool) -> None:
    names = [n for n in _remembered() if n != name] + ([name] if present else [])
    path = _names_file()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(names), encoding="utf-8")
    os.replace(tmp, path)
