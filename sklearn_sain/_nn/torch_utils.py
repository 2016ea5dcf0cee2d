"""Small torch helpers: device resolution, private random streams, CPU state dicts."""

from __future__ import annotations

import warnings

import torch


def resolve_device(device) -> torch.device:
    """Turn a ``device`` parameter into a usable :class:`torch.device`.

    ``"auto"`` picks CUDA when available. Asking for CUDA where there is none is
    an error here, at ``fit``, rather than a failure deep inside the first batch.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if isinstance(device, torch.device):
        resolved = device
    elif isinstance(device, str):
        try:
            resolved = torch.device(device)
        except RuntimeError as exc:
            raise ValueError(
                f"device={device!r} is not a valid device; use 'cpu', 'cuda', 'cuda:N' or 'auto'"
            ) from exc
    else:
        raise TypeError(f"device must be a string or torch.device, got {type(device).__name__}")
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but CUDA is not available on this machine; "
                "use device='cpu' or device='auto'"
            )
        index = resolved.index if resolved.index is not None else 0
        if index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r} was requested but only {torch.cuda.device_count()} "
                "CUDA device(s) are visible"
            )
    elif resolved.type != "cpu":
        raise ValueError(f"device={device!r} is not supported; use 'cpu', 'cuda', 'cuda:N' or 'auto'")
    return resolved


def cpu_state_dict(module: torch.nn.Module) -> dict:
    """A copy of ``module``'s state with every tensor on the CPU, safe to pickle anywhere."""
    return {name: tensor.detach().to("cpu", copy=True) for name, tensor in module.state_dict().items()}


def loadable_device(device: torch.device) -> torch.device:
    """The device a model fitted on ``device`` should live on in this process.

    A model fitted on CUDA and loaded on a machine without it falls back to the
    CPU with a warning instead of failing to load.
    """
    if device.type != "cuda":
        return device
    if not torch.cuda.is_available():
        reason = "CUDA is not available here"
    elif (device.index or 0) >= torch.cuda.device_count():
        # a model trained on cuda:1 must still load on a one-GPU machine
        reason = f"only {torch.cuda.device_count()} CUDA device(s) are visible here"
    else:
        return device
    warnings.warn(
        f"The model was fitted on {device} but {reason}; it was loaded on the CPU.",
        UserWarning,
        stacklevel=3,
    )
    return torch.device("cpu")


def is_finite_module(module: torch.nn.Module) -> bool:
    """Whether every floating-point parameter and buffer of ``module`` is finite."""
    return all(
        bool(torch.isfinite(tensor).all())
        for tensor in module.state_dict().values()
        if tensor.is_floating_point()
    )


def is_allocation_error(error: BaseException) -> bool:
    """Whether ``error`` is torch or Python failing to allocate (or size) a tensor."""
    if isinstance(error, (MemoryError, torch.OutOfMemoryError)):
        return True
    message = str(error)
    return isinstance(error, RuntimeError) and (
        "allocate" in message or "size calculation overflowed" in message
    )
