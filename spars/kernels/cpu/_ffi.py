"""Numba loops as XLA:CPU custom calls, through the typed XLA FFI (``jax.ffi``).

A handler is a numba ``cfunc`` with the C signature of an XLA FFI handler,
``XLA_FFI_Error* handler(XLA_FFI_CallFrame*)``. It reads its buffers from the
call frame (laid out in ``jax.ffi.include_dir()/xla/ffi/api/c_api.h``, read
here as 64-bit words), answers XLA's metadata query, runs only in the
execute stage and returns NULL (success). Inputs are checked by the Python
wrappers when they are traced, so a handler never reports an error.

Word offsets used below (x86-64 and aarch64, LP64):

- call frame: 1 extension_start, 4 stage, 7 args.size, 9 args.args, 12 rets.size,
  14 rets.rets;
- buffer: 2 dtype, 3 data, 4 rank, 5 dims;
- metadata extension: 1 type, 3 metadata; metadata: api_version at word 1.
"""

import ctypes

import numpy as np
from numba import carray, njit, types
from numba.core import cgutils
from numba.extending import intrinsic

_EXECUTE = 3  # XLA_FFI_ExecutionStage_EXECUTE
_METADATA = 1  # XLA_FFI_Extension_Metadata
_API_VERSION = (0, 3)  # XLA_FFI_API_MAJOR/MINOR of the headers these offsets come from
_API_VERSION_SIZE = 28  # XLA_FFI_Api_Version_STRUCT_SIZE
INT32, FLOAT32, FLOAT64 = 4, 11, 12  # XLA_FFI_DataType codes

SIGNATURE = types.voidptr(types.voidptr)


@intrinsic
def pointer(typingctx, address):
    """``void*`` from an integer address."""

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], cgutils.voidptr_t)

    return types.voidptr(address), codegen


@njit(inline="always")
def _words(address, n):
    return carray(pointer(address), (n,), np.int64)


@njit(inline="always")
def _buffer(frame, k, result):
    """The 64-bit words of argument ``k`` (or result ``k``) of a call frame."""
    table = _words(carray(frame, (15,), np.int64)[14 if result else 9], k + 1)
    return _words(table[k], 6)


@njit(inline="always")
def dtype_code(frame, k):
    """The XLA_FFI_DataType of argument ``k``."""
    return _buffer(frame, k, False)[2] & 0xFFFFFFFF


@njit(inline="always")
def dtype_code_result(frame, k):
    """The XLA_FFI_DataType of result ``k``."""
    return _buffer(frame, k, True)[2] & 0xFFFFFFFF


@njit(inline="always")
def data_address(frame, k, result):
    """The data address of argument (or result) ``k``, for :func:`numba.carray`."""
    return _buffer(frame, k, result)[3]


@njit(inline="always")
def n_args(frame):
    """The number of arguments of a call frame."""
    return carray(frame, (15,), np.int64)[7]


@njit(inline="always")
def n_results(frame):
    """The number of results of a call frame."""
    return carray(frame, (15,), np.int64)[12]


@njit(inline="always")
def array1(frame, k, result, dtype):
    """Argument (or result) ``k`` as a 1-D array of ``dtype``."""
    b = _buffer(frame, k, result)
    dims = _words(b[5], 1)
    return carray(pointer(b[3]), (dims[0],), dtype)


@njit(inline="always")
def flat(frame, k, result, dtype):
    """Argument (or result) ``k`` of any rank as a flat (row-major) array of ``dtype``."""
    b = _buffer(frame, k, result)
    size, rank = 1, b[4]
    if rank > 0:
        dims = _words(b[5], rank)
        for d in range(rank):
            size *= dims[d]
    return carray(pointer(b[3]), (size,), dtype)


@njit(inline="always")
def array2(frame, k, result, dtype):
    """Argument (or result) ``k`` as a 2-D row-major array of ``dtype``."""
    b = _buffer(frame, k, result)
    dims = _words(b[5], 2)
    return carray(pointer(b[3]), (dims[0], dims[1]), dtype)


@njit(inline="always")
def should_run(frame):
    """True in the execute stage; answers the metadata query (and returns False) otherwise."""
    words = carray(frame, (15,), np.int64)
    if words[1] != 0:
        extension = _words(words[1], 4)
        if (extension[1] & 0xFFFFFFFF) == _METADATA:
            metadata = _words(extension[3], 6)
            halves = carray(pointer(extension[3]), (12,), np.int32)
            metadata[1] = _API_VERSION_SIZE  # api_version.struct_size
            metadata[2] = 0  # api_version.extension_start
            halves[6], halves[7] = _API_VERSION
            halves[8] = 0  # traits
            metadata[5] = 0  # state_type_id: XLA_FFI_UNKNOWN_TYPE_ID
            return False
    return (words[4] & 0xFFFFFFFF) == _EXECUTE


@njit(inline="always")
def success():
    """The NULL ``XLA_FFI_Error*``."""
    return pointer(0)


def register(name: str, handler) -> None:
    """Registers a compiled ``cfunc`` handler as the CPU FFI target ``name``."""
    import jax

    new_capsule = ctypes.pythonapi.PyCapsule_New
    new_capsule.restype = ctypes.py_object
    new_capsule.argtypes = (ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p)
    capsule = new_capsule(handler.address, b"xla._CUSTOM_CALL_TARGET", None)
    jax.ffi.register_ffi_target(name, capsule, platform="cpu")
