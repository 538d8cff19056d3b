"""Sealed and signed model artifacts: AES-256-GCM, Ed25519, and the keys they need.

- :func:`seal` / :func:`unseal` encrypt and authenticate a model (optionally bound to a
  model card through ``associated_data=card.hash``); any changed bit is an
  :class:`~edgeml.errors.IntegrityError`, never garbage output.
- :func:`sign` / :func:`verify` make and check detached Ed25519 signatures, so a device
  can refuse a model its owner did not publish.
- :func:`open_model_bytes` does both for a loader, in the safe order.
- Keys: :func:`generate_key`, :func:`derive_key` (scrypt), :func:`derive_subkey`
  (HKDF), :func:`generate_signing_key`, :func:`save_key` / :func:`load_key`. A
  :class:`SecretKey` never shows its bytes in a ``repr``; edgeml never writes a key
  unless asked, and never logs one.

Built on the ``cryptography`` package (OpenSSL's AES-GCM and Ed25519).

Examples
--------
>>> from edgeml import security
>>> key = security.generate_key()
>>> sealed = security.seal(b"model bytes", key)
>>> security.unseal(sealed, key)
b'model bytes'
"""

from __future__ import annotations

from edgeml.security._keyfiles import load_key as load_key
from edgeml.security._keyfiles import save_key as save_key
from edgeml.security._keys import KEY_SIZE as KEY_SIZE
from edgeml.security._keys import SCRYPT_N as SCRYPT_N
from edgeml.security._keys import SCRYPT_P as SCRYPT_P
from edgeml.security._keys import SCRYPT_R as SCRYPT_R
from edgeml.security._keys import SecretKey as SecretKey
from edgeml.security._keys import derive_key as derive_key
from edgeml.security._keys import derive_subkey as derive_subkey
from edgeml.security._keys import generate_key as generate_key
from edgeml.security._keys import generate_signing_key as generate_signing_key
from edgeml.security._keys import key_id as key_id
from edgeml.security._open import open_model_bytes as open_model_bytes
from edgeml.security._seal import SEALED_MAGIC as SEALED_MAGIC
from edgeml.security._seal import is_sealed as is_sealed
from edgeml.security._seal import seal as seal
from edgeml.security._seal import sealed_key_id as sealed_key_id
from edgeml.security._seal import unseal as unseal
from edgeml.security._sign import SIGNATURE_MAGIC as SIGNATURE_MAGIC
from edgeml.security._sign import SIGNATURE_SIZE as SIGNATURE_SIZE
from edgeml.security._sign import SIGNATURE_SUFFIX as SIGNATURE_SUFFIX
from edgeml.security._sign import sign as sign
from edgeml.security._sign import sign_file as sign_file
from edgeml.security._sign import verify as verify

__all__ = [
    "KEY_SIZE",
    "SCRYPT_N",
    "SCRYPT_P",
    "SCRYPT_R",
    "SEALED_MAGIC",
    "SIGNATURE_MAGIC",
    "SIGNATURE_SIZE",
    "SIGNATURE_SUFFIX",
    "SecretKey",
    "derive_key",
    "derive_subkey",
    "generate_key",
    "generate_signing_key",
    "is_sealed",
    "key_id",
    "load_key",
    "open_model_bytes",
    "save_key",
    "seal",
    "sealed_key_id",
    "sign",
    "sign_file",
    "unseal",
    "verify",
]
