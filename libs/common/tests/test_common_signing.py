"""Result signing: exact-bytes HMAC, rotation with two keys, refusals by reason, key files."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from dtmon_common.broker_watch import BrokerWatch
from dtmon_common.signing import (
    KEY_ID_HEADER,
    SIGNATURE_HEADER,
    Refusal,
    SigningKeyError,
    ensure_key_file,
    load_keys,
    parse_keys,
)

OLD = "old:" + "a" * 64
NEW = "new:" + "b" * 64
VALUE = b'{"schema":"dtmon.batch.v1","batch_id":3}'


def test_signature_covers_the_exact_bytes() -> None:
    ring = parse_keys(OLD, "t")
    headers = ring.sign(VALUE)
    assert ring.verify(VALUE, headers) is None
    assert ring.verify(VALUE + b" ", headers) is Refusal.BAD_SIGNATURE
    assert ring.verify(VALUE.replace(b"3", b"4"), headers) is Refusal.BAD_SIGNATURE
    assert ring.verify(VALUE, None) is Refusal.UNSIGNED
    assert ring.verify(VALUE, [(KEY_ID_HEADER, b"old")]) is Refusal.UNSIGNED
    forged = [(KEY_ID_HEADER, b"old"), (SIGNATURE_HEADER, b"0" * 64)]
    assert ring.verify(VALUE, forged) is Refusal.BAD_SIGNATURE


def test_rotation_two_keys_verify_the_first_signs() -> None:
    processor_old, processor_new = parse_keys(OLD, "t"), parse_keys(f"{NEW}\n{OLD}", "t")
    api_rolling = parse_keys(f"{OLD}\n{NEW}", "t")
    assert api_rolling.verify(VALUE, processor_old.sign(VALUE)) is None
    assert api_rolling.verify(VALUE, processor_new.sign(VALUE)) is None
    assert processor_new.signing_key.key_id == "new"
    api_after = parse_keys(NEW, "t")
    assert api_after.verify(VALUE, processor_old.sign(VALUE)) is Refusal.UNKNOWN_KEY


def test_a_repeated_header_cannot_smuggle_a_second_signature() -> None:
    ring = parse_keys(OLD, "t")
    good = ring.sign(VALUE)
    smuggled = [(KEY_ID_HEADER, b"old"), (SIGNATURE_HEADER, b"f" * 64), *good]
    assert ring.verify(VALUE, smuggled) is Refusal.BAD_SIGNATURE


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "no key"),
        ("k1:short", "shorter than 32"),
        ("no-separator", "expected <key_id>:<secret>"),
        (f"{OLD}\n{OLD}", "duplicate key id"),
    ],
)
def test_bad_key_material_is_refused_naming_the_problem(text: str, needle: str) -> None:
    with pytest.raises(SigningKeyError, match=needle):
        parse_keys(text, "keys")


def test_key_file_is_generated_once_private_and_loadable(tmp_path: Path) -> None:
    path = ensure_key_file(tmp_path / "run" / "signing.keys")
    first = path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ensure_key_file(path).read_text() == first  # a second start keeps the key
    ring = load_keys(str(path), None)
    assert len(ring.signing_key.secret) == 64
    assert "secret" not in repr(ring) and ring.signing_key.secret.decode() not in repr(ring)
    assert load_keys(None, f"{OLD},{NEW}").signing_key.key_id == "old"
    with pytest.raises(SigningKeyError, match="not both"):
        load_keys(str(path), OLD)
    with pytest.raises(SigningKeyError, match="--signing-key-file"):
        load_keys(None, None)


def test_broker_watch_turns_unready_after_the_stated_silence() -> None:
    now = [100.0]
    watch = BrokerWatch(lambda _t: None, unreachable_after=15.0, clock=lambda: now[0])
    assert watch.status() == (False, "broker not reached yet")
    watch.record_ok()
    now[0] += 15.0
    assert watch.ready()
    now[0] += 0.5
    ok, reason = watch.status()
    assert not ok and "unreachable for 16 s" in reason
    watch.record_ok()
    assert watch.ready()
