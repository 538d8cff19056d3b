"""Fuzz the key entry points: load_key/save_key files and paths, SecretKey, derivation,
key ids, seal/unseal. Only a result or an edgeml error may come out (see conftest.py),
and no key material may appear in an error message."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from edgeml.errors import EdgeMLError
from edgeml.security import (
    SecretKey,
    derive_subkey,
    generate_key,
    key_id,
    load_key,
    save_key,
    seal,
    unseal,
)

FUZZ = settings.get_profile("fuzz")
KEY = generate_key()

pem_labels = st.sampled_from(
    ["EDGEML SECRET KEY", "PRIVATE KEY", "PUBLIC KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "X"]
)
pem_bodies = st.one_of(
    st.binary(max_size=80).map(lambda b: base64.encodebytes(b).decode()),
    st.text(max_size=80),
)
pem_files = st.one_of(
    st.builds(
        lambda label, body: f"-----BEGIN {label}-----\n{body}-----END {label}-----\n".encode(),
        pem_labels,
        pem_bodies,
    ),
    st.binary(max_size=200),
    st.builds(lambda label: f"-----BEGIN {label}-----\n".encode(), pem_labels),
)
path_parts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/"),
    min_size=1,
    max_size=12,
)


@FUZZ
@given(pem_files)
def test_load_key_on_generated_files(
    edgeml_only: Callable[..., Any], tmp_path_factory: Any, content: bytes
) -> None:
    path = tmp_path_factory.mktemp("keys") / "k.pem"
    path.write_bytes(content)
    result = edgeml_only(load_key, path)
    if isinstance(result, EdgeMLError):
        assert content.decode("ascii", "replace").strip() not in str(result) or len(content) < 8


@FUZZ
@given(st.lists(path_parts, min_size=1, max_size=3), st.booleans())
def test_save_and_load_key_on_generated_paths(
    edgeml_only: Callable[..., Any], tmp_path_factory: Any, parts: list[str], overwrite: bool
) -> None:
    folder: Path = tmp_path_factory.mktemp("paths")
    target = folder.joinpath(*parts)
    saved = edgeml_only(save_key, target, KEY, overwrite=overwrite)
    if isinstance(saved, Path):
        assert load_key(saved) == KEY
        assert oct(saved.stat().st_mode & 0o777) == "0o600"
    else:
        assert bytes(KEY).hex() not in str(saved)
    # nothing half-written or orphaned next to the target
    if target.parent.is_dir():
        assert not [p for p in target.parent.iterdir() if ".edgeml-tmp-" in p.name]
    edgeml_only(load_key, target)


@FUZZ
@given(
    st.one_of(
        st.binary(max_size=64),
        st.text(max_size=40),
        st.integers(),
        st.none(),
        st.lists(st.integers(0, 255), max_size=40),
    )
)
def test_secret_key_and_key_id(edgeml_only: Callable[..., Any], material: Any) -> None:
    key = edgeml_only(SecretKey, material)
    if isinstance(key, SecretKey):
        assert key.id == key_id(key)
        assert bytes(key).hex() not in repr(key)
    edgeml_only(key_id, material)


@FUZZ
@given(
    st.one_of(st.text(max_size=30), st.binary(max_size=10), st.none(), st.integers()),
    st.one_of(st.none(), st.binary(max_size=40), st.text(max_size=5), st.integers()),
)
def test_derive_subkey(edgeml_only: Callable[..., Any], purpose: Any, salt: Any) -> None:
    result = edgeml_only(derive_subkey, KEY, purpose=purpose, salt=salt)
    if isinstance(result, SecretKey):
        assert result != KEY


@FUZZ
@given(st.binary(max_size=300), st.one_of(st.none(), st.binary(max_size=20), st.text(max_size=10)))
def test_seal_round_trip_and_unseal_garbage(
    edgeml_only: Callable[..., Any], payload: bytes, associated: Any
) -> None:
    sealed = edgeml_only(seal, payload, KEY, associated_data=associated)
    if isinstance(sealed, bytes):
        assert unseal(sealed, KEY, associated_data=associated) == payload
        tampered = bytearray(sealed)
        tampered[len(tampered) // 2] ^= 1
        edgeml_only(unseal, bytes(tampered), KEY, associated_data=associated)
    edgeml_only(unseal, payload, KEY)


def test_load_key_never_blocks_on_special_files(
    tmp_path: Path, edgeml_only: Callable[..., Any]
) -> None:
    os.mkfifo(tmp_path / "fifo")
    for special in (tmp_path / "fifo", Path("/dev/null"), Path("/dev/zero"), tmp_path):
        assert isinstance(edgeml_only(load_key, special), EdgeMLError)
