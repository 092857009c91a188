#!/usr/bin/env python3
"""Lists every chunked dataset of the corpus with its object header address and the oracle's
expectations (from the `.canon.json` files), for tests/chunked_corpus.rs.

Run from the repository root:  python3 crates/h5oxide/tests/gen_chunked_fixture.py
Needs h5py. Output: crates/h5oxide/tests/data/chunked_corpus.tsv
columns: file, dataset path, object header address, chunk_index, num_chunks, storage_size,
         sha256 of the compact chunk_info JSON `[[[o0,o1],mask,nbytes],...]` (or -), sha256 or - (only when the stored bytes are the digest's bytes:
         no big-endian/VAX parts, no references, no variable-length parts)
"""
import hashlib, json, os, sys
import h5py

ROOT = os.environ.get("H5OXIDE_CORPUS", "/work/shared/corpus")
OUT = os.path.join(os.path.dirname(__file__), "data", "chunked_corpus.tsv")


def simple(dt):
    if dt is None:
        return False
    c = dt.get("class")
    if dt.get("size") is None:
        return False
    if dt.get("order") in ("be", "vax"):
        return False
    if c in ("reference", "vlen", "unknown", "time"):
        return False
    for k in ("base",):
        if k in dt and not simple(dt[k]):
            return False
    if c == "compound":
        return all(simple(m["dtype"]) for m in dt["members"])
    return True


def find(canon, path):
    node = canon["root"]
    for part in [p for p in path.split("/") if p]:
        node = node.get("links", {}).get(part)
        if node is None:
            return None
    return node


rows = []
man = os.path.join(ROOT, "MANIFEST.tsv")
for line in open(man).read().splitlines()[1:]:
    cols = line.split("\t")
    f, feats = cols[0], cols[-1]
    if "layout:chunked" not in feats:
        continue
    cpath = os.path.join(ROOT, f + ".canon.json")
    if not os.path.exists(cpath):
        continue
    canon = json.load(open(cpath))
    if not canon.get("ok"):
        continue
    try:
        h = h5py.File(os.path.join(ROOT, f), "r")
    except Exception:
        continue
    seen = set()
    items = []

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            items.append(("/" + name, obj))

    try:
        h.visititems(visit)
    except Exception:
        pass
    for path, ds in items:
        try:
            if ds.chunks is None:
                continue
            addr = h5py.h5o.get_info(ds.id).addr
        except Exception:
            continue
        if addr in seen:
            continue
        seen.add(addr)
        node = find(canon, path)
        if not node or node.get("kind") != "dataset" or node.get("layout") != "chunked":
            continue
        if node.get("num_chunks") is None:
            continue
        ci = node.get("chunk_info")
        sha = node.get("sha256") if simple(node.get("dtype")) and "read_error" not in node else None
        rows.append([f, path, str(addr), node.get("chunk_index"), str(node["num_chunks"]),
                     str(node["storage_size"]),
                     hashlib.sha256(json.dumps(ci, separators=(",", ":")).encode()).hexdigest()
                     if ci is not None else "-",
                     sha or "-"])
with open(OUT, "w") as o:
    for r in rows:
        o.write("\t".join(r) + "\n")
print(len(rows), "datasets", file=sys.stderr)
