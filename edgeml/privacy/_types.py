"""The type of what ``make_private`` returns, for IDEs and type checkers (no TensorFlow)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from edgeml.typing import KerasModel

if TYPE_CHECKING:  # the state module imports TensorFlow; a type needs only its name
    from edgeml.privacy._state import PrivacyState

__all__ = ["PrivateModel"]


@runtime_checkable
class PrivateModel(KerasModel, Protocol):
    """A Keras model returned by :func:`edgeml.privacy.make_private`: it also has ``privacy``.

    Examples
    --------
    >>> from edgeml.privacy import PrivateModel
    >>> PrivateModel.__name__
    'PrivateModel'
    """

    privacy: PrivacyState
