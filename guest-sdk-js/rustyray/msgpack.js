// MessagePack (msgpack.org), the value encoding every rustyray guest speaks.
//
// A small encoder and decoder for the types that cross the boundary:
//   null/undefined <-> nil, boolean, number (an integer when it is a safe integer, else
//   a 64-bit float), BigInt (64-bit integers), string, Uint8Array (bin), Array, Map and
//   plain objects (map). Integers beyond Number.MAX_SAFE_INTEGER decode as BigInt.
// Rust's side (rmp-serde) writes structs as maps keyed by field name and enums as
// {variant: value}, so they read here as plain objects. Extension values (`Ext`: rustyray's
// object references are extension 82) are written as given and read through `extHook`.

export class EncodeError extends TypeError {
  constructor(message) {
    super(message);
    this.name = "ObjectEncodeError";
  }
}

export class DecodeError extends Error {
  constructor(message) {
    super(message);
    this.name = "ObjectDecodeError";
  }
}

const MAX_DEPTH = 512;

/// A MessagePack extension value: a type code (-128..127) and its bytes.
export class Ext {
  constructor(code, data) {
    this.code = code;
    this.data = data;
  }
}
const UTF8_ENCODER = new TextEncoder();
const UTF8_DECODER = new TextDecoder("utf-8", { fatal: true });

class Writer {
  constructor() {
    this.buf = new Uint8Array(64);
    this.view = new DataView(this.buf.buffer);
    this.len = 0;
  }
  reserve(n) {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buf.subarray(0, this.len));
    this.buf = grown;
    this.view = new DataView(grown.buffer);
  }
  byte(b) {
    this.reserve(1);
    this.buf[this.len++] = b;
  }
  u8(tag, v) {
    this.reserve(2);
    this.buf[this.len++] = tag;
    this.buf[this.len++] = v;
  }
  u16(tag, v) {
    this.reserve(3);
    this.buf[this.len++] = tag;
    this.view.setUint16(this.len, v);
    this.len += 2;
  }
  u32(tag, v) {
    this.reserve(5);
    this.buf[this.len++] = tag;
    this.view.setUint32(this.len, v);
    this.len += 4;
  }
  u64(tag, v) {
    this.reserve(9);
    this.buf[this.len++] = tag;
    this.view.setBigUint64(this.len, v);
    this.len += 8;
  }
  i64(tag, v) {
    this.reserve(9);
    this.buf[this.len++] = tag;
    this.view.setBigInt64(this.len, v);
    this.len += 8;
  }
  f64(v) {
    this.reserve(9);
    this.buf[this.len++] = 0xcb;
    this.view.setFloat64(this.len, v);
    this.len += 8;
  }
  bytes(data) {
    this.reserve(data.length);
    this.buf.set(data, this.len);
    this.len += data.length;
  }
  header(n, small, smallMax, tag16, tag32) {
    if (n <= smallMax) this.byte(small | n);
    else if (n <= 0xffff) this.u16(tag16, n);
    else this.u32(tag32, n);
  }
  result() {
    return this.buf.slice(0, this.len);
  }
}

function encodeInteger(w, v) {
  if (v >= 0) {
    if (v < 0x80) w.byte(v);
    else if (v <= 0xff) w.u8(0xcc, v);
    else if (v <= 0xffff) w.u16(0xcd, v);
    else if (v <= 0xffffffff) w.u32(0xce, v);
    else w.u64(0xcf, BigInt(v));
  } else if (v >= -32) {
    w.byte(v & 0xff);
  } else if (v >= -0x80) {
    w.u8(0xd0, v & 0xff);
  } else if (v >= -0x8000) {
    w.u16(0xd1, v & 0xffff);
  } else if (v >= -0x80000000) {
    w.u32(0xd2, v >>> 0);
  } else {
    w.i64(0xd3, BigInt(v));
  }
}

function encodeBigInt(w, v) {
  if (v >= 0n && v <= 0xffffffffffffffffn) {
    if (v <= BigInt(Number.MAX_SAFE_INTEGER)) encodeInteger(w, Number(v));
    else w.u64(0xcf, v);
  } else if (v < 0n && v >= -0x8000000000000000n) {
    if (v >= BigInt(Number.MIN_SAFE_INTEGER)) encodeInteger(w, Number(v));
    else w.i64(0xd3, v);
  } else {
    throw new EncodeError(`the integer ${v} does not fit in 64 bits`);
  }
}

function encodeString(w, s) {
  const data = UTF8_ENCODER.encode(s);
  const n = data.length;
  if (n < 32) w.byte(0xa0 | n);
  else if (n <= 0xff) w.u8(0xd9, n);
  else if (n <= 0xffff) w.u16(0xda, n);
  else w.u32(0xdb, n);
  w.bytes(data);
}

function encodeBin(w, data) {
  const n = data.length;
  if (n <= 0xff) w.u8(0xc4, n);
  else if (n <= 0xffff) w.u16(0xc5, n);
  else w.u32(0xc6, n);
  w.bytes(data);
}

function encodeExt(w, ext) {
  if (!Number.isInteger(ext.code) || ext.code < -128 || ext.code > 127) {
    throw new EncodeError(`extension type ${ext.code} is not in -128..127`);
  }
  const n = ext.data.length;
  const fixed = { 1: 0xd4, 2: 0xd5, 4: 0xd6, 8: 0xd7, 16: 0xd8 }[n];
  if (fixed !== undefined) w.byte(fixed);
  else if (n <= 0xff) w.u8(0xc7, n);
  else if (n <= 0xffff) w.u16(0xc8, n);
  else w.u32(0xc9, n);
  w.byte(ext.code & 0xff);
  w.bytes(ext.data);
}

function typeName(v) {
  if (v === null) return "null";
  if (typeof v !== "object") return typeof v;
  return (v.constructor && v.constructor.name) || "object";
}

function encodeValue(w, v, replace, depth) {
  if (depth > MAX_DEPTH) {
    throw new EncodeError(`the value is nested more than ${MAX_DEPTH} levels deep`);
  }
  switch (typeof v) {
    case "undefined":
      w.byte(0xc0);
      return;
    case "boolean":
      w.byte(v ? 0xc3 : 0xc2);
      return;
    case "number":
      if (Number.isSafeInteger(v) && !Object.is(v, -0)) encodeInteger(w, v);
      else w.f64(v);
      return;
    case "bigint":
      encodeBigInt(w, v);
      return;
    case "string":
      encodeString(w, v);
      return;
    case "object":
      break;
    default:
      throw new EncodeError(
        `cannot encode a ${typeof v} as MessagePack (use null, booleans, numbers, BigInt, ` +
          "strings, Uint8Array, arrays, Maps or plain objects)",
      );
  }
  if (v === null) {
    w.byte(0xc0);
    return;
  }
  if (v instanceof Uint8Array) {
    encodeBin(w, v);
    return;
  }
  if (v instanceof Ext) {
    encodeExt(w, v);
    return;
  }
  if (ArrayBuffer.isView(v)) {
    encodeBin(w, new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    return;
  }
  if (v instanceof ArrayBuffer) {
    encodeBin(w, new Uint8Array(v));
    return;
  }
  if (Array.isArray(v)) {
    w.header(v.length, 0x90, 15, 0xdc, 0xdd);
    for (const item of v) encodeValue(w, item, replace, depth + 1);
    return;
  }
  if (v instanceof Map) {
    w.header(v.size, 0x80, 15, 0xde, 0xdf);
    for (const [key, item] of v) {
      encodeValue(w, key, replace, depth + 1);
      encodeValue(w, item, replace, depth + 1);
    }
    return;
  }
  if (replace) {
    const replaced = replace(v);
    if (replaced !== v) {
      encodeValue(w, replaced, replace, depth + 1);
      return;
    }
  }
  if (v instanceof Set) {
    encodeValue(w, [...v], replace, depth + 1);
    return;
  }
  if (v instanceof Date || v instanceof RegExp || v instanceof Promise || v instanceof Error) {
    throw new EncodeError(`cannot encode a ${typeName(v)} as MessagePack`);
  }
  // Plain objects and class instances: their own enumerable string-keyed properties.
  const keys = Object.keys(v);
  w.header(keys.length, 0x80, 15, 0xde, 0xdf);
  for (const key of keys) {
    encodeString(w, key);
    encodeValue(w, v[key], replace, depth + 1);
  }
}

/// The MessagePack bytes of `value`. `replace(v)` may turn objects MessagePack has no
/// type for into ones it has (it returns `v` itself to decline).
export function pack(value, replace) {
  const w = new Writer();
  encodeValue(w, value, replace, 0);
  return w.result();
}

class Reader {
  constructor(data, extHook) {
    this.data = data;
    this.extHook = extHook;
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.pos = 0;
  }
  need(n) {
    if (this.pos + n > this.data.length) {
      throw new DecodeError("truncated MessagePack value");
    }
  }
  u8() {
    this.need(1);
    return this.data[this.pos++];
  }
  read(n, get) {
    this.need(n);
    const v = get.call(this.view, this.pos);
    this.pos += n;
    return v;
  }
  slice(n) {
    this.need(n);
    const out = this.data.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  text(n) {
    this.need(n);
    try {
      const s = UTF8_DECODER.decode(this.data.subarray(this.pos, this.pos + n));
      this.pos += n;
      return s;
    } catch (err) {
      throw new DecodeError(`a MessagePack string is not UTF-8: ${err.message}`);
    }
  }
}

function bigOrNumber(v) {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(v)
    : v;
}

function decodeArray(r, n, depth) {
  if (n > r.data.length - r.pos) {
    throw new DecodeError(`an array of ${n} items in ${r.data.length - r.pos} bytes`);
  }
  const out = new Array(n);
  for (let i = 0; i < n; i++) out[i] = decodeValue(r, depth + 1);
  return out;
}

function decodeMap(r, n, depth) {
  if (n * 2 > r.data.length - r.pos) {
    throw new DecodeError(`a map of ${n} entries in ${r.data.length - r.pos} bytes`);
  }
  const entries = [];
  let stringKeys = true;
  for (let i = 0; i < n; i++) {
    const key = decodeValue(r, depth + 1);
    const value = decodeValue(r, depth + 1);
    if (typeof key !== "string") stringKeys = false;
    entries.push([key, value]);
  }
  if (!stringKeys) return new Map(entries);
  const out = {};
  for (const [key, value] of entries) {
    // defineProperty: a key "__proto__" is data, never the object's prototype.
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/// An extension value: what `extHook(code, data)` makes of it; without a hook, refused.
function decodeExt(r, n) {
  const code = r.read(1, r.view.getInt8);
  const data = r.slice(n);
  if (!r.extHook) throw new DecodeError(`MessagePack extension type ${code} is not expected here`);
  return r.extHook(code, data);
}

function decodeValue(r, depth) {
  if (depth > MAX_DEPTH) {
    throw new DecodeError(`the value is nested more than ${MAX_DEPTH} levels deep`);
  }
  const v = r.view;
  const b = r.u8();
  if (b < 0x80) return b;
  if (b >= 0xe0) return b - 0x100;
  if (b >= 0xa0 && b <= 0xbf) return r.text(b & 0x1f);
  if (b >= 0x90 && b <= 0x9f) return decodeArray(r, b & 0x0f, depth);
  if (b >= 0x80 && b <= 0x8f) return decodeMap(r, b & 0x0f, depth);
  switch (b) {
    case 0xc0:
      return null;
    case 0xc2:
      return false;
    case 0xc3:
      return true;
    case 0xcc:
      return r.u8();
    case 0xcd:
      return r.read(2, v.getUint16);
    case 0xce:
      return r.read(4, v.getUint32);
    case 0xcf:
      return bigOrNumber(r.read(8, v.getBigUint64));
    case 0xd0:
      return r.read(1, v.getInt8);
    case 0xd1:
      return r.read(2, v.getInt16);
    case 0xd2:
      return r.read(4, v.getInt32);
    case 0xd3:
      return bigOrNumber(r.read(8, v.getBigInt64));
    case 0xca:
      return r.read(4, v.getFloat32);
    case 0xcb:
      return r.read(8, v.getFloat64);
    case 0xd9:
      return r.text(r.u8());
    case 0xda:
      return r.text(r.read(2, v.getUint16));
    case 0xdb:
      return r.text(r.read(4, v.getUint32));
    case 0xc4:
      return r.slice(r.u8());
    case 0xc5:
      return r.slice(r.read(2, v.getUint16));
    case 0xc6:
      return r.slice(r.read(4, v.getUint32));
    case 0xdc:
      return decodeArray(r, r.read(2, v.getUint16), depth);
    case 0xdd:
      return decodeArray(r, r.read(4, v.getUint32), depth);
    case 0xde:
      return decodeMap(r, r.read(2, v.getUint16), depth);
    case 0xdf:
      return decodeMap(r, r.read(4, v.getUint32), depth);
    case 0xd4:
      return decodeExt(r, 1);
    case 0xd5:
      return decodeExt(r, 2);
    case 0xd6:
      return decodeExt(r, 4);
    case 0xd7:
      return decodeExt(r, 8);
    case 0xd8:
      return decodeExt(r, 16);
    case 0xc7:
      return decodeExt(r, r.u8());
    case 0xc8:
      return decodeExt(r, r.read(2, v.getUint16));
    case 0xc9:
      return decodeExt(r, r.read(4, v.getUint32));
    default:
      throw new DecodeError(`byte 0x${b.toString(16)} does not start a MessagePack value`);
  }
}

/// The one value `data` holds; trailing bytes are an error (they mean the bytes were
/// written as something else). An extension value becomes `extHook(code, data)`.
export function unpack(data, extHook) {
  const view = ArrayBuffer.isView(data)
    ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    : new Uint8Array(data);
  const r = new Reader(view, extHook);
  const value = decodeValue(r, 0);
  if (r.pos !== r.data.length) {
    throw new DecodeError(`${r.data.length - r.pos} unexpected trailing bytes`);
  }
  return value;
}
