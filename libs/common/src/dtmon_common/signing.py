"""HMAC-SHA256 signatures on result messages: only a holder of the key can change the dashboard.

Anyone who can write to the results topic could otherwise publish a batch; the results
service applies only messages whose exact value bytes carry a valid signature. The
signature covers the bytes as they sit in Kafka (never a re-serialisation), so nothing
between the processor and the API can alter a message without detection.

Keys live in one text file (a Kubernetes Secret mounted as a file, or what `dtmon up`
generates) or in `DTMON_SIGNING_KEYS`, one key per line as `<key_id>:<secret>`. The first
key signs; every listed key verifies. Rotation is therefore: add the new key as a second
line and roll the API; move it to the first line and roll the processor; drop the old line
and roll the API again. Never more than two keys need to be listed.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

KEY_ID_HEADER = "dtmon-key-id"
SIGNATURE_HEADER = "dtmon-signature"
MIN_SECRET_CHARS = 32
"""A secret shorter than this is refused at start: a guessable key is no key."""
_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class SigningKeyError(ValueError):
    """The key material is missing or malformed; the message names the source and the line."""


class Refusal(enum.Enum):
    """Why a message's signature was not accepted (label values of the refusal metrics)."""

    UNSIGNED = "unsigned"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"


@dataclass(frozen=True)
class SigningKey:
    key_id: str
    secret: bytes

    def __repr__(self) -> str:  # never print the secret, not even in a traceback
        return f"SigningKey(key_id={self.key_id!r})"


Headers = Sequence[tuple[str, bytes | str | None]] | None


@dataclass(frozen=True)
class KeyRing:
    """The keys of one service: `keys[0]` signs, all of them verify."""

    keys: tuple[SigningKey, ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise SigningKeyError("no signing key")
        ids = [k.key_id for k in self.keys]
        if len(set(ids)) != len(ids):
            raise SigningKeyError(f"duplicate key id in {ids}")

    @property
    def signing_key(self) -> SigningKey:
        return self.keys[0]

    def sign(self, value: bytes) -> list[tuple[str, bytes]]:
        """Kafka headers that authenticate `value` under the first key."""
        key = self.signing_key
        digest = hmac.new(key.secret, value, hashlib.sha256).hexdigest()
        return [(KEY_ID_HEADER, key.key_id.encode()), (SIGNATURE_HEADER, digest.encode())]

    def verify(self, value: bytes, headers: Headers) -> Refusal | None:
        """None when `value` is signed by one of our keys, else why not. Constant-time."""
        found = _header_map(headers)
        key_id, signature = found.get(KEY_ID_HEADER), found.get(SIGNATURE_HEADER)
        if key_id is None or signature is None:
            return Refusal.UNSIGNED
        key = next((k for k in self.keys if k.key_id.encode() == key_id), None)
        if key is None:
            return Refusal.UNKNOWN_KEY
        expected = hmac.new(key.secret, value, hashlib.sha256).hexdigest().encode()
        return None if hmac.compare_digest(expected, signature) else Refusal.BAD_SIGNATURE


def _header_map(headers: Headers) -> dict[str, bytes]:
    """The first value of each header; a repeated header cannot smuggle a second signature."""
    out: dict[str, bytes] = {}
    for name, value in headers or ():
        if name in out or value is None:
            continue
        out[name] = value.encode() if isinstance(value, str) else bytes(value)
    return out


def parse_keys(text: str, source: str) -> KeyRing:
    """`<key_id>:<secret>` lines (blank lines and # comments ignored) -> KeyRing."""
    keys = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key_id, sep, secret = line.partition(":")
        key_id, secret = key_id.strip(), secret.strip()
        if not sep or not _KEY_ID.match(key_id):
            raise SigningKeyError(f"{source} line {number}: expected <key_id>:<secret>")
        if len(secret) < MIN_SECRET_CHARS:
            raise SigningKeyError(
                f"{source} line {number}: secret of key {key_id!r} is shorter than "
                f"{MIN_SECRET_CHARS} characters"
            )
        keys.append(SigningKey(key_id, secret.encode()))
    if not keys:
        raise SigningKeyError(f"{source}: no key (expected <key_id>:<secret> lines)")
    return KeyRing(tuple(keys))


def load_keys(key_file: str | None, inline: str | None) -> KeyRing:
    """The key ring from a file, or from the keys given inline (environment); one of both."""
    if key_file and inline:
        raise SigningKeyError("give either a signing key file or inline signing keys, not both")
    if key_file:
        path = Path(key_file)
        try:
            return parse_keys(path.read_text(encoding="utf-8"), str(path))
        except OSError as exc:
            raise SigningKeyError(f"cannot read signing key file {path}: {exc.strerror}") from None
    if inline:
        return parse_keys(inline.replace(",", "\n"), "DTMON_SIGNING_KEYS")
    raise SigningKeyError(
        "results are signed: pass --signing-key-file FILE (or set DTMON_SIGNING_KEYS); "
        "`make run` generates .cache/run/signing.keys"
    )


def generate_key_line(key_id: str | None = None) -> str:
    """A fresh `<key_id>:<secret>` line: 256 random bits, hex."""
    key_id = key_id or f"k{secrets.token_hex(4)}"
    return f"{key_id}:{secrets.token_hex(32)}"


def ensure_key_file(path: Path) -> Path:
    """Create `path` with one fresh key (mode 0600) unless it exists; return it.

    Created with O_EXCL, so two processes starting at once cannot both write a key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("# dtmon result-signing keys: <key_id>:<secret>; the first one signs\n")
        out.write(generate_key_line() + "\n")
    return path
