"""Read the arrays of a ``torch.save`` file without importing torch and without unpickling arbitrary objects.

A ``.pt`` file is a zip archive: ``<name>/data.pkl`` (a pickle that describes the tensors) and one raw
little-endian storage blob per tensor under ``<name>/data/<key>``. The pickle only needs a handful of globals to
describe a dict of tensors; :class:`_TensorUnpickler` maps exactly those to harmless stand-ins and refuses every
other global, so a malicious file raises instead of running code.
"""

from __future__ import annotations

import math
import pickle
import zipfile
from collections import OrderedDict

import numpy as np

_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class _StorageType:
    def __init__(self, name: str):
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


def _rebuild_tensor(storage, offset, size, stride, *unused) -> np.ndarray:
    """The tensor the pickle describes, after checking that it lies inside its storage: a crafted size, stride or
    offset must not read past the storage's end or blow a small storage up into a huge copy."""
    if not isinstance(storage, np.ndarray):
        raise pickle.UnpicklingError(f"a tensor's storage is a {type(storage).__name__}, not a storage")
    ints = lambda xs: isinstance(xs, (tuple, list)) and all(type(x) is int and x >= 0 for x in xs)  # noqa: E731
    if type(offset) is not int or offset < 0 or not ints(size) or not ints(stride) or len(size) != len(stride):
        raise pickle.UnpicklingError(f"a tensor's offset {offset!r}, size {size!r} or stride {stride!r} is not a "
                                     "non-negative integer (or a list of them of one length)")
    numel = math.prod(size)
    if numel == 0:
        return np.zeros(tuple(size), storage.dtype)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= len(storage) or numel > len(storage):
        raise pickle.UnpicklingError(f"a tensor of size {tuple(size)}, stride {tuple(stride)} at offset {offset} "
                                     f"does not fit its storage of {len(storage)} elements")
    if len(size) == 0:
        return storage[offset].copy()
    itemsize = storage.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(
        storage[offset:], shape=tuple(size), strides=tuple(s * itemsize for s in stride), writeable=False
    )
    return np.array(view)


class _TensorUnpickler(pickle.Unpickler):
    def __init__(self, file, archive: zipfile.ZipFile, prefix: str, path: str):
        super().__init__(file)
        self.archive, self.prefix, self.path = archive, prefix, path

    def find_class(self, module: str, name: str):
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        raise pickle.UnpicklingError(f"{self.path}: refusing to load '{module}.{name}' (only tensors are read)")

    def persistent_load(self, pid):
        """A storage, read only after its declared size was checked against the archive's entry: exactly
        ``numel`` elements of an uncompressed entry (torch.save stores them uncompressed), so what is read is
        bounded by the file's own size."""
        if not isinstance(pid, tuple) or len(pid) != 5:
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        kind, storage_type, key, _location, numel = pid
        if kind != "storage" or not isinstance(storage_type, _StorageType) or not isinstance(key, str) \
                or type(numel) is not int or numel < 0:
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        name = f"{self.prefix}/data/{key}"
        try:
            info = self.archive.getinfo(name)
        except KeyError:
            raise pickle.UnpicklingError(f"storage '{name}' is not in the archive") from None
        nbytes = numel * storage_type.dtype.itemsize
        if info.compress_type != zipfile.ZIP_STORED or info.file_size != nbytes or info.compress_size != nbytes:
            raise pickle.UnpicklingError(f"storage '{name}' declares {numel} elements ({nbytes} bytes); the archive "
                                         f"holds {info.file_size} bytes"
                                         + ("" if info.compress_type == zipfile.ZIP_STORED else ", compressed"))
        with self.archive.open(info) as f:
            raw = f.read(nbytes)
        if len(raw) != nbytes:
            raise pickle.UnpicklingError(f"storage '{name}' is cut short: {len(raw)} of {nbytes} bytes")
        return np.frombuffer(raw, dtype=storage_type.dtype.newbyteorder("<"), count=numel)


def read_torch_arrays(path: str) -> dict[str, np.ndarray]:
    """The dict of tensors saved with ``torch.save`` at ``path``, as numpy arrays. Any malformed content raises
    ValueError naming the file (a crafted file cannot crash the process or read outside its storages)."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as e:
        raise ValueError(f"{path}: not a torch zip archive (legacy torch.save format is not supported)") from e
    with archive:
        pkl = [n for n in archive.namelist() if n.endswith("/data.pkl")]
        if len(pkl) != 1:
            raise ValueError(f"{path}: expected one '*/data.pkl' in the archive, found {len(pkl)}")
        prefix = pkl[0][: -len("/data.pkl")]
        try:
            with archive.open(pkl[0]) as f:
                obj = _TensorUnpickler(f, archive, prefix, path).load()
        except pickle.UnpicklingError as e:
            message = str(e)
            raise ValueError(message if message.startswith(path) else f"{path}: {message}") from None
        except Exception as e:  # noqa: BLE001 -- any other malformed byte (truncation, a bad opcode) is bad input
            raise ValueError(f"{path}: not a readable torch file ({type(e).__name__}: {e})") from None
    if not isinstance(obj, dict) or not all(isinstance(k, str) and isinstance(v, np.ndarray)
                                            for k, v in obj.items()):
        raise ValueError(f"{path}: expected a dict of tensors at the top level")
    return dict(obj)
