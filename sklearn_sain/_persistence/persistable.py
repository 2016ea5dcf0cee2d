"""The estimator classes the safe format can hold, registered by the modules that define them.

:mod:`sklearn_sain._persistence.safe_format` writes and reads estimators, and the
estimators save and pickle themselves through it: were it to import their
modules, the two would import each other. Each estimator class registers
itself here with :func:`persistable` instead, and the format finds it by name.
"""

from __future__ import annotations

_CLASSES: dict[str, type] = {}


def persistable(cls: type) -> type:
    """Class decorator: instances of ``cls`` can be saved in the safe format and read back.

    ``cls`` provides

    - the classmethod ``_with_legacy_params(params) -> dict``: the parameters
      of a file or pickle written by an older version, completed with the
      values that version behaved with. It is the one place of the class's
      backward-compatibility defaults, for files and pickles alike;
    - the classmethod ``_from_saved_params(params)``: an unfitted instance
      with those parameters, refused (``ValueError``) unless ``fit`` would
      accept them;
    - ``_safe_state() -> (state, tensors)``: the fitted state as JSON values
      and a dict of CPU tensors;
    - ``_restore_safe_state(state, tensors, device)``: the reverse, refusing
      (``ValueError``, ``KeyError`` or ``TypeError``) a state no fit writes.

    :mod:`sklearn_sain._persistence.safe_format` writes and reads the file around them.
    """
    _CLASSES[cls.__name__] = cls
    return cls


class SavedParams:
    """The two classmethods of :func:`persistable` that read saved parameters.

    A class sets ``_legacy_params``: the values its older versions behaved
    with for the parameters they did not have yet.
    """

    _legacy_params: dict = {}

    @classmethod
    def _with_legacy_params(cls, params: dict) -> dict:
        """``params`` of a file or pickle from an older version, completed as it behaved."""
        return {**cls._legacy_params, **params}

    @classmethod
    def _from_saved_params(cls, params: dict):
        """An unfitted instance with saved ``params``, refused unless fit would accept them."""
        instance = cls(**cls._with_legacy_params(params))
        instance._validate_params()
        instance._check_params()
        return instance


def persistable_class(name: str) -> type:
    """The registered class called ``name``; a ``ValueError`` for any other name."""
    try:
        return _CLASSES[name]
    except KeyError:
        raise ValueError(f"unknown estimator {name!r}") from None


def is_persistable(obj, name: str) -> bool:
    """Whether ``obj`` is an instance of the registered class called ``name``."""
    cls = _CLASSES.get(name)
    return cls is not None and isinstance(obj, cls)
