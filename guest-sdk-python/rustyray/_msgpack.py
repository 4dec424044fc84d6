"""MessagePack (msgpack.org), the value encoding every rustyray guest speaks.

A small pure-Python encoder and decoder, so a guest needs no C extension (none can be
loaded inside the WebAssembly sandbox). It covers the types that cross the boundary:
None, bool, int (64-bit), float (64-bit), str, bytes (``bin``), list and tuple (array) and
dict (map), and extension values (``ExtType``: rustyray's object references are
extension 82). Rust's side (rmp-serde) writes structs as maps keyed by field name and enums
as ``{variant: value}``, so they read here as dicts.
"""

from struct import pack as _pack, unpack_from as _unpack_from


class EncodeError(TypeError):
    """A value that MessagePack cannot carry."""


class DecodeError(ValueError):
    """Bytes that are not one well-formed MessagePack value."""


class ExtType:
    """A MessagePack extension value: a type code (-128..127) and its bytes."""

    __slots__ = ("code", "data")

    def __init__(self, code, data):
        self.code = code
        self.data = bytes(data)


# The decoder's ``ext_hook`` while ``unpackb`` runs (guests are single-threaded).
_EXT_HOOK = [None]


def packb(value, default=None):
    """The MessagePack bytes of ``value``. ``default(obj)`` may turn other objects into
    encodable ones (as msgpack-python's ``default``)."""
    out = []
    _encode(value, out.append, default, 0)
    return b"".join(out)


def _encode(value, put, default, depth):
    if depth > 512:
        raise EncodeError("value nested more than 512 levels deep")
    t = type(value)
    if value is None:
        put(b"\xc0")
    elif t is bool:
        put(b"\xc3" if value else b"\xc2")
    elif t is int:
        if 0 <= value < 0x80:
            put(bytes((value,)))
        elif -32 <= value < 0:
            put(bytes((value & 0xFF,)))
        elif 0 <= value <= 0xFF:
            put(b"\xcc" + bytes((value,)))
        elif 0 <= value <= 0xFFFF:
            put(_pack(">BH", 0xCD, value))
        elif 0 <= value <= 0xFFFFFFFF:
            put(_pack(">BI", 0xCE, value))
        elif 0 <= value <= 0xFFFFFFFFFFFFFFFF:
            put(_pack(">BQ", 0xCF, value))
        elif -0x80 <= value < 0:
            put(_pack(">Bb", 0xD0, value))
        elif -0x8000 <= value < 0:
            put(_pack(">Bh", 0xD1, value))
        elif -0x80000000 <= value < 0:
            put(_pack(">Bi", 0xD2, value))
        elif -0x8000000000000000 <= value < 0:
            put(_pack(">Bq", 0xD3, value))
        else:
            raise EncodeError(f"integer {value} does not fit in 64 bits")
    elif t is float:
        put(_pack(">Bd", 0xCB, value))
    elif t is str:
        data = value.encode("utf-8")
        n = len(data)
        if n < 32:
            put(bytes((0xA0 | n,)))
        elif n <= 0xFF:
            put(bytes((0xD9, n)))
        elif n <= 0xFFFF:
            put(_pack(">BH", 0xDA, n))
        else:
            put(_pack(">BI", 0xDB, n))
        put(data)
    elif t is bytes or t is bytearray or t is memoryview:
        data = bytes(value)
        n = len(data)
        if n <= 0xFF:
            put(bytes((0xC4, n)))
        elif n <= 0xFFFF:
            put(_pack(">BH", 0xC5, n))
        else:
            put(_pack(">BI", 0xC6, n))
        put(data)
    elif t is list or t is tuple:
        n = len(value)
        if n < 16:
            put(bytes((0x90 | n,)))
        elif n <= 0xFFFF:
            put(_pack(">BH", 0xDC, n))
        else:
            put(_pack(">BI", 0xDD, n))
        for item in value:
            _encode(item, put, default, depth + 1)
    elif t is dict:
        n = len(value)
        if n < 16:
            put(bytes((0x80 | n,)))
        elif n <= 0xFFFF:
            put(_pack(">BH", 0xDE, n))
        else:
            put(_pack(">BI", 0xDF, n))
        for key, item in value.items():
            _encode(key, put, default, depth + 1)
            _encode(item, put, default, depth + 1)
    elif t is ExtType:
        n = len(value.data)
        if not -128 <= value.code <= 127:
            raise EncodeError(f"extension type {value.code} is not in -128..127")
        fixed = {1: 0xD4, 2: 0xD5, 4: 0xD6, 8: 0xD7, 16: 0xD8}.get(n)
        if fixed is not None:
            put(_pack(">Bb", fixed, value.code))
        elif n <= 0xFF:
            put(_pack(">BBb", 0xC7, n, value.code))
        elif n <= 0xFFFF:
            put(_pack(">BHb", 0xC8, n, value.code))
        elif n <= 0xFFFFFFFF:
            put(_pack(">BIb", 0xC9, n, value.code))
        else:
            raise EncodeError("extension value longer than 4 GiB")
        put(value.data)
    elif isinstance(value, (bool, int, float, str, bytes, list, tuple, dict)):
        # Subclasses (IntEnum, namedtuple, OrderedDict, ...) as their base type.
        for base in (bool, int, float, str, bytes, tuple, list, dict):
            if isinstance(value, base):
                _encode(base(value) if base is not tuple else tuple(value), put, default, depth)
                return
    elif default is not None:
        replaced = default(value)
        if replaced is value:
            raise EncodeError(f"cannot encode a {t.__name__} as MessagePack")
        _encode(replaced, put, default, depth + 1)
    else:
        raise EncodeError(f"cannot encode a {t.__name__} as MessagePack")


def unpackb(data, ext_hook=None):
    """The one value ``data`` holds; trailing bytes are an error (they mean the bytes were
    written as something else). An extension value becomes ``ext_hook(code, data)``, and
    is refused without one."""
    data = bytes(data)
    outer = _EXT_HOOK[0]
    _EXT_HOOK[0] = ext_hook
    try:
        value, end = _decode(data, 0, 0)
    except (IndexError, Exception) as err:  # struct.error, IndexError on truncation
        if isinstance(err, DecodeError):
            raise
        raise DecodeError(f"truncated or malformed MessagePack ({err})") from None
    finally:
        _EXT_HOOK[0] = outer
    if end != len(data):
        raise DecodeError(f"{len(data) - end} unexpected trailing bytes")
    return value


def _decode(data, i, depth):
    if depth > 512:
        raise DecodeError("value nested more than 512 levels deep")
    b = data[i]
    i += 1
    if b < 0x80:
        return b, i
    if b >= 0xE0:
        return b - 0x100, i
    if 0xA0 <= b <= 0xBF:
        n = b & 0x1F
        return _text(data, i, n), i + n
    if 0x90 <= b <= 0x9F:
        return _array(data, i, b & 0x0F, depth)
    if 0x80 <= b <= 0x8F:
        return _map(data, i, b & 0x0F, depth)
    if b == 0xC0:
        return None, i
    if b == 0xC2:
        return False, i
    if b == 0xC3:
        return True, i
    if b == 0xCC:
        return data[i], i + 1
    if b == 0xCD:
        return _unpack_from(">H", data, i)[0], i + 2
    if b == 0xCE:
        return _unpack_from(">I", data, i)[0], i + 4
    if b == 0xCF:
        return _unpack_from(">Q", data, i)[0], i + 8
    if b == 0xD0:
        return _unpack_from(">b", data, i)[0], i + 1
    if b == 0xD1:
        return _unpack_from(">h", data, i)[0], i + 2
    if b == 0xD2:
        return _unpack_from(">i", data, i)[0], i + 4
    if b == 0xD3:
        return _unpack_from(">q", data, i)[0], i + 8
    if b == 0xCA:
        return _unpack_from(">f", data, i)[0], i + 4
    if b == 0xCB:
        return _unpack_from(">d", data, i)[0], i + 8
    if b in (0xD9, 0xDA, 0xDB, 0xC4, 0xC5, 0xC6):
        if b in (0xD9, 0xC4):
            n, i = data[i], i + 1
        elif b in (0xDA, 0xC5):
            n, i = _unpack_from(">H", data, i)[0], i + 2
        else:
            n, i = _unpack_from(">I", data, i)[0], i + 4
        if i + n > len(data):
            raise DecodeError("truncated MessagePack string or bin")
        if b >= 0xD9:
            return _text(data, i, n), i + n
        return data[i : i + n], i + n
    if b in (0xDC, 0xDD):
        if b == 0xDC:
            return _array(data, i + 2, _unpack_from(">H", data, i)[0], depth)
        return _array(data, i + 4, _unpack_from(">I", data, i)[0], depth)
    if b in (0xDE, 0xDF):
        if b == 0xDE:
            return _map(data, i + 2, _unpack_from(">H", data, i)[0], depth)
        return _map(data, i + 4, _unpack_from(">I", data, i)[0], depth)
    if b in (0xD4, 0xD5, 0xD6, 0xD7, 0xD8, 0xC7, 0xC8, 0xC9):
        if b >= 0xD4:
            n = 1 << (b - 0xD4)
        elif b == 0xC7:
            n, i = data[i], i + 1
        elif b == 0xC8:
            n, i = _unpack_from(">H", data, i)[0], i + 2
        else:
            n, i = _unpack_from(">I", data, i)[0], i + 4
        code = _unpack_from(">b", data, i)[0]
        i += 1
        if i + n > len(data):
            raise DecodeError("truncated MessagePack extension")
        hook = _EXT_HOOK[0]
        if hook is None:
            raise DecodeError(f"MessagePack extension type {code} is not expected here")
        return hook(code, data[i : i + n]), i + n
    raise DecodeError(f"byte 0x{b:02x} does not start a MessagePack value")


def _text(data, i, n):
    if i + n > len(data):
        raise DecodeError("truncated MessagePack string")
    try:
        return data[i : i + n].decode("utf-8")
    except UnicodeDecodeError as err:
        raise DecodeError(f"a MessagePack string is not UTF-8: {err}") from None


def _array(data, i, n, depth):
    if n > len(data) - i:
        raise DecodeError(f"array of {n} items in {len(data) - i} bytes")
    out = []
    for _ in range(n):
        item, i = _decode(data, i, depth + 1)
        out.append(item)
    return out, i


def _map(data, i, n, depth):
    if n * 2 > len(data) - i:
        raise DecodeError(f"map of {n} entries in {len(data) - i} bytes")
    out = {}
    for _ in range(n):
        key, i = _decode(data, i, depth + 1)
        if isinstance(key, list):
            key = tuple(key)
        item, i = _decode(data, i, depth + 1)
        try:
            out[key] = item
        except TypeError:
            raise DecodeError(f"a map key of type {type(key).__name__} is not hashable") from None
    return out, i
