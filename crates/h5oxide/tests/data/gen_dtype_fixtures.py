#!/usr/bin/env python3
"""Regenerates dtype_fixtures.jsonl for tests/dtype_corpus.rs.

For every contiguous dataset of the shared corpus (role = test, not under bad/, no user block,
at most 1 MiB of raw data) it records where the raw data lies in the file and the datatype
message bytes as stored in the dataset's object header (datasets whose datatype message is
shared/committed are left out). Compact datasets (layout v3+) are included; so are files under
bad/ that the oracle could open.
Expected values are read by the Rust test from the `.canon.json` files themselves.

Usage: python gen_dtype_fixtures.py SHARED_DIR > dtype_fixtures.jsonl
"""
import csv
import json
import os
import sys

import struct

import h5py
from h5py import h5o

shared = sys.argv[1]
sys.path.insert(0, os.path.join(shared, "tools"))
import h5canon  # noqa: E402

def header_messages(raw, addr, o_size, l_size):
    """(type, flags, data offset, size) of the messages of the object header at addr,
    following continuation messages."""
    out = []
    if raw[addr:addr + 4] == b"OHDR":
        flags = raw[addr + 5]
        p = addr + 6 + (16 if flags & 0x20 else 0) + (4 if flags & 0x10 else 0)
        w = 1 << (flags & 3)
        size = int.from_bytes(raw[p:p + w], "little")
        blocks = [(p + w, p + w + size - 4)]
        while blocks:
            p, end = blocks.pop(0)
            while p + 4 <= end:
                mtype, msize, mflags = raw[p], struct.unpack_from("<H", raw, p + 1)[0], raw[p + 3]
                p += 4 + (2 if flags & 0x04 else 0)
                out.append((mtype, mflags, p, msize))
                if mtype == 0x10:
                    ca = int.from_bytes(raw[p:p + o_size], "little")
                    cl = int.from_bytes(raw[p + o_size:p + o_size + l_size], "little")
                    blocks.append((ca + 4, ca + cl - 4))
                p += msize
        return out
    if raw[addr] != 1:
        return out
    nmsgs = struct.unpack_from("<H", raw, addr + 2)[0]
    size = struct.unpack_from("<I", raw, addr + 8)[0]
    blocks = [(addr + 16, addr + 16 + size)]
    while blocks and len(out) < nmsgs:
        p, end = blocks.pop(0)
        while p + 8 <= end and len(out) < nmsgs:
            mtype, msize, mflags = struct.unpack_from("<HHB", raw, p)
            p += 8
            out.append((mtype, mflags, p, msize))
            if mtype == 0x10:
                ca = int.from_bytes(raw[p:p + o_size], "little")
                cl = int.from_bytes(raw[p + o_size:p + o_size + l_size], "little")
                blocks.append((ca, ca + cl))
            p += msize
    return out


def dtype_message(raw, addr, o_size, l_size):
    """Bytes of the (unshared) datatype message of the object header at addr."""
    for mtype, mflags, p, msize in header_messages(raw, addr, o_size, l_size):
        if mtype == 3:
            return None if mflags & 2 else raw[p:p + msize]
    return None


def compact_data(raw, addr, o_size, l_size):
    """(offset, size) of a compact dataset's raw data (layout message version 3+)."""
    for mtype, mflags, p, msize in header_messages(raw, addr, o_size, l_size):
        if mtype == 8 and raw[p] >= 3 and raw[p + 1] == 0:
            return p + 4, struct.unpack_from("<H", raw, p + 2)[0]
    return None


def attributes(raw, addr, o_size, l_size):
    """(name, datatype message bytes, data offset, data end) of the compact attributes of the
    object header at addr whose datatype is not shared."""
    out = []
    for mtype, mflags, p, msize in header_messages(raw, addr, o_size, l_size):
        if mtype != 0x0C:
            continue
        end = p + msize
        version, flags = raw[p], raw[p + 1]
        nsz, tsz, ssz = struct.unpack_from("<HHH", raw, p + 2)
        q = p + 8
        if version == 3:
            q += 1
        pad = (lambda n: (n + 7) // 8 * 8) if version == 1 else (lambda n: n)
        name = raw[q:q + nsz].rstrip(b"\0")
        q += pad(nsz)
        dt = raw[q:q + tsz]
        q += pad(tsz) + pad(ssz)
        if version >= 2 and flags & 1 or mflags & 2:
            continue
        out.append((name, dt, q, end))
    return out


corpus = os.path.join(shared, "corpus")
rows = list(csv.DictReader(open(os.path.join(corpus, "MANIFEST.tsv")), delimiter="\t"))
for row in rows:
    rel = row["file"]
    if row["role"] != "test" or "userblock" in row["features"]:
        continue
    path = os.path.join(corpus, rel)
    try:
        canon = json.load(open(path + ".canon.json"))
        if not canon.get("ok") or canon["superblock"]["userblock_size"]:
            continue
        raw_file = open(path, "rb").read()
        f = h5canon.open_file(path, False)
        c = h5canon.Canon(f)
        c.index_paths()
    except Exception:
        continue
    sizes = list(f.id.get_create_plist().get_sizes())
    if "ref" in row["features"]:
        # canonical paths by object header address, for resolving object references
        print(json.dumps({"file": rel, "refs": {str(a): p for a, p in c.paths.items()}}, sort_keys=True))
    n = 0
    for addr, p in sorted(c.paths.items(), key=lambda x: x[1]):
        if n >= 40:
            break
        try:
            attrs = attributes(raw_file, addr, *sizes)
            obj = f[p]
        except Exception:
            attrs = []
        for name, dt, q, end in attrs[:10]:
            try:
                shape = obj.attrs.get_id(name).shape
                nelem = 0 if shape is None else int(__import__("numpy").prod(shape))
            except Exception:
                continue
            rec = {"file": rel, "path": p, "attr": name.decode("utf-8", "backslashreplace"),
                   "sizes": sizes, "dtype": dt.hex(), "offset": q, "nbytes": end - q, "nelem": nelem}
            print(json.dumps(rec, sort_keys=True))
        try:
            obj = f[p]
            if not isinstance(obj, h5py.Dataset):
                continue
            off = obj.id.get_offset()
            nbytes = obj.id.get_storage_size()
            if off is None and obj.id.get_create_plist().get_layout() == h5py.h5d.COMPACT:
                off, nbytes = compact_data(raw_file, addr, *sizes)
            if off is None:
                continue
            if nbytes > (1 << 20):
                continue
            enc = dtype_message(raw_file, addr, *sizes)
        except Exception:
            continue
        if not enc:
            continue
        rec = {"file": rel, "path": p, "sizes": sizes, "dtype": enc.hex(), "offset": off, "nbytes": nbytes,
               "nelem": int(obj.size)}
        print(json.dumps(rec, sort_keys=True))
        n += 1
