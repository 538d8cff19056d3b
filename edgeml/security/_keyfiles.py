"""Key files: keys are written only when asked, atomically, readable only by their owner.

:func:`save_key` writes a key atomically with mode 0600 for secret and private keys
(0644 for public keys) and refuses to overwrite an existing file unless
``overwrite=True``; :func:`load_key` reads it back and warns when a secret file is
readable by other users.
"""

from __future__ import annotations

import base64
import logging
import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from edgeml._io import atomic_write, path_error, read_file
from edgeml.errors import ConfigError, invalid_argument
from edgeml.security._keys import (
    AnyKey,
    SecretKey,
)

__all__ = ["load_key", "save_key"]

logger = logging.getLogger("edgeml.security")

_SECRET_PEM_LABEL = "EDGEML SECRET KEY"


def _pem(label: str, payload: bytes) -> bytes:
    body = base64.encodebytes(payload).decode("ascii")
    return f"-----BEGIN {label}-----\n{body}-----END {label}-----\n".encode("ascii")


def _key_file_content(key: object) -> tuple[bytes, int]:
    """Return the PEM bytes of a key and the file mode to write it with."""
    if isinstance(key, SecretKey):
        return _pem(_SECRET_PEM_LABEL, bytes(key)), 0o600
    if isinstance(key, Ed25519PrivateKey):
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return pem, 0o600
    if isinstance(key, Ed25519PublicKey):
        pem = key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return pem, 0o644
    raise invalid_argument(
        "save_key",
        "key",
        type(key).__name__,
        "a SecretKey, Ed25519PrivateKey or Ed25519PublicKey",
        fix="wrap raw secret bytes as SecretKey(material)",
    )


def save_key(path: str | os.PathLike[str], key: AnyKey, *, overwrite: bool = False) -> Path:
    """Write a key to a PEM file atomically (mode 0600 for secret and private keys).

    Formats: a :class:`SecretKey` as base64 between ``-----BEGIN EDGEML SECRET
    KEY-----`` lines; an Ed25519 private key as unencrypted PKCS #8 PEM and a public key
    as SubjectPublicKeyInfo PEM (mode 0644), both readable by OpenSSL. The file is
    written to a temporary file in the same folder, fsynced, then linked into place, so
    a reader never sees half a key.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; its folder must exist.
    key : SecretKey, Ed25519PrivateKey or Ed25519PublicKey
        The key to write.
    overwrite : bool, default False
        Replace an existing file. Without it an existing file is never touched, because
        overwriting a key can make every artifact sealed with it unreadable.

    Returns
    -------
    pathlib.Path
        The destination.

    Raises
    ------
    ConfigError
        When ``path`` exists and ``overwrite`` is false, or ``key`` has another type.
    PathError
        When the folder does not exist or cannot be written (permissions, read-only or
        full disk).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from edgeml.security import SecretKey, generate_key
    >>> path = save_key(pathlib.Path(tempfile.mkdtemp()) / "model.key", generate_key())
    >>> oct(path.stat().st_mode & 0o777)
    '0o600'
    >>> isinstance(load_key(path), SecretKey)
    True
    """
    content, mode = _key_file_content(key)
    if not isinstance(path, (str, os.PathLike)):
        raise invalid_argument("save_key", "path", path, "a path (str or os.PathLike)")
    target = Path(path)
    if not overwrite and target.exists():
        raise invalid_argument(
            "save_key",
            "path",
            str(target),
            "a path that does not exist yet",
            fix="pass overwrite=True to replace the key (artifacts sealed with the old key "
            "become unreadable)",
        )
    try:
        # exclusive: fails atomically if the target appeared since the check above
        return atomic_write(target, content, mode=mode, exclusive=not overwrite)
    except FileExistsError as exc:
        raise invalid_argument(
            "save_key", "path", str(target), "a path that does not exist yet"
        ) from exc
    except ValueError as exc:  # a NUL byte in the path
        raise invalid_argument("save_key", "path", str(target), "a valid file path") from exc
    except OSError as exc:  # missing folder, no permission, read-only or full disk
        raise path_error(
            "save_key", "path", target, exc, "a new file in a writable folder", writing=True
        ) from None


def load_key(path: str | os.PathLike[str]) -> AnyKey:
    """Read a key written by :func:`save_key` (or an Ed25519 PEM key from OpenSSL).

    Parameters
    ----------
    path : str or os.PathLike
        A PEM file.

    Returns
    -------
    SecretKey, Ed25519PrivateKey or Ed25519PublicKey
        Depending on the PEM label.

    Raises
    ------
    ConfigError
        When the file is not one of those key formats.
    PathError
        When the path does not exist, is not a regular file, cannot be read, or is
        larger than 1 MiB (no key file is).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from edgeml.security import generate_signing_key, key_id
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> private_key = generate_signing_key()
    >>> path = save_key(folder / "publisher.pub", private_key.public_key())
    >>> key_id(load_key(path)) == key_id(private_key)
    True
    """
    content = read_file(path, owner="load_key", expected="a readable key file", max_bytes=1 << 20)
    target = Path(path)  # read_file accepted it, so it is a path
    expected = "a PEM file holding an edgeml secret key or an Ed25519 key"
    text = content.decode("ascii", "replace")
    if f"-----BEGIN {_SECRET_PEM_LABEL}-----" in text:
        _warn_if_readable_by_others(target)
        body = text.split(f"-----BEGIN {_SECRET_PEM_LABEL}-----", 1)[1]
        body = body.split(f"-----END {_SECRET_PEM_LABEL}-----", 1)[0]
        try:
            return SecretKey(base64.b64decode("".join(body.split()), validate=True))
        except (ValueError, ConfigError) as exc:
            raise invalid_argument("load_key", "path", str(target), expected) from exc
    try:
        if "PRIVATE KEY-----" in text:
            _warn_if_readable_by_others(target)
            key: object = serialization.load_pem_private_key(content, password=None)
        else:
            key = serialization.load_pem_public_key(content)
    except (ValueError, TypeError) as exc:
        raise invalid_argument("load_key", "path", str(target), expected) from exc
    if not isinstance(key, (Ed25519PrivateKey, Ed25519PublicKey)):
        raise invalid_argument(
            "load_key",
            "path",
            str(target),
            expected,
            fix=f"it holds a {type(key).__name__}; edgeml signs with Ed25519 only, so "
            "create a key with generate_signing_key()",
        )
    return key


def _warn_if_readable_by_others(path: Path) -> None:
    mode = path.stat().st_mode
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        logger.warning(
            "Key file %s is accessible by other users (mode %s); run chmod 600 on it.",
            path,
            oct(mode & 0o777),
        )
