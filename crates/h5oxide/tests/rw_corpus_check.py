"""Checks the corpus files that tests/rw_corpus.rs changed in place (issue #4).

    python rw_corpus_check.py SHARED_TOOLS_DIR INPUT.json

INPUT.json lists, per file: the original, its oracle document (`.canon.json`), the changed
copy, which changes were applied (`dataset`, `attr`: true/false; `resize`: null or what was
done). For each file the changed copy is canonicalized with h5canon.py, exactly the expected
changes are taken out (the `/__h5oxide_rw` link, the root attribute `__h5oxide_rw`, the resized
dataset's entry — checked separately against the original with h5py) and the rest must compare
equal to the oracle's document under the rules of h5canon_compare.py. When it does not, the
original is canonicalized again with this libhdf5 and used instead if it differs from the
stored document in the same way (the stored one was made by another libhdf5).

Then libhdf5 itself appends to a copy of each changed file (h5py `r+`: a dataset and a root
attribute) and the changes must still read back.

Prints `ok FILE ...` or `mismatch FILE: first differences` per file, then a `summary` line;
exits 1 on any mismatch.
"""
import json
import os
import shutil
import sys
import traceback

import h5py
import numpy as np

sys.path.insert(0, sys.argv[1])
import h5canon  # noqa: E402
from h5canon_compare import compare_docs  # noqa: E402

DS = "__h5oxide_rw"
ATTR = "__h5oxide_rw"
ATTR_VALUE = "changed by h5oxide"
# Fields of a resized dataset's entry that follow from its new shape and storage.
RESIZE_KEYS = ("shape", "sha256", "value", "json_sha256", "storage_size", "num_chunks",
               "chunk_info", "chunk_index", "data_skipped", "read_error")


def normalise(doc):
    return json.loads(json.dumps(doc))


def entry_at(doc, path):
    """(parent links dict, name) of the canonical entry for `path`, following hardlink stubs."""
    node = doc["root"]
    parts = [p for p in path.split("/") if p]
    for i, p in enumerate(parts):
        links = node.get("links", {})
        if p not in links:
            return None
        if i + 1 == len(parts):
            e = links[p]
            if e.get("kind") == "hardlink":
                return entry_at(doc, e["target"])
            return links, p
        node = links[p]
        if node.get("kind") == "hardlink":
            found = entry_at(doc, node["target"])
            if found is None:
                return None
            node = found[0][found[1]]
    return None


def raw_read(ds, sel_start, sel_count):
    """The elements of a box as stored (file type as memory type), as bytes."""
    dsid = ds.id
    ftype = dsid.get_type()
    fspace = dsid.get_space()
    fspace.select_hyperslab(tuple(sel_start), tuple(sel_count))
    mspace = h5py.h5s.create_simple(tuple(sel_count))
    buf = np.zeros(tuple(sel_count), dtype=np.dtype((np.void, ftype.get_size())))
    if buf.size:
        dsid.read(mspace, fspace, buf, mtype=ftype)
    return buf.tobytes()


def is_variable(ftype):
    if isinstance(ftype, (h5py.h5t.TypeVlenID,)):
        return True
    if isinstance(ftype, h5py.h5t.TypeStringID) and ftype.is_variable_str():
        return True
    if isinstance(ftype, h5py.h5t.TypeCompoundID):
        return any(is_variable(ftype.get_member_type(i)) for i in range(ftype.get_nmembers()))
    if isinstance(ftype, h5py.h5t.TypeArrayID):
        return is_variable(ftype.get_super())
    return False


def same_objects(a, b):
    a, b = np.asarray(a, dtype=object).ravel(), np.asarray(b, dtype=object).ravel()
    if a.shape != b.shape:
        return False
    for x, y in zip(a, b):
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            if not np.array_equal(np.asarray(x), np.asarray(y)):
                return False
        elif isinstance(x, (tuple, np.void)):
            if repr(x) != repr(y):
                return False
        elif x != y:
            return False
    return True


def check_resized(item, problems):
    r = item["resize"]
    path, dim = r["path"], r["dim"]
    old, new = r["old_shape"], r["new_shape"]
    with h5py.File(item["original"], "r") as fo, h5py.File(item["modified"], "r") as fm:
        do, dm = fo[path], fm[path]
        if list(dm.shape) != new:
            problems.append("%s: shape %s, expected %s" % (path, dm.shape, new))
            return
        if dm.maxshape != do.maxshape or dm.chunks != do.chunks:
            problems.append("%s: maxshape/chunks changed" % path)
        ftype = do.id.get_type()
        variable = is_variable(ftype)
        tail_start = [0] * len(new)
        tail_start[dim] = old[dim]
        tail_count = list(new)
        tail_count[dim] = 1
        if not variable:
            try:
                before = raw_read(do, [0] * len(old), old)
            except Exception as e:  # h5py cannot read the original either (e.g. a filter)
                before = None
                try:
                    raw_read(dm, [0] * len(old), old)
                    problems.append("%s: original unreadable (%s) but changed copy reads"
                                    % (path, e))
                except Exception:
                    pass
            if before is not None and raw_read(dm, [0] * len(old), old) != before:
                problems.append("%s: old region differs" % path)
            if r["written"] is not None and before is not None:
                got = raw_read(dm, tail_start, tail_count)
                if got.hex() != r["written"]:
                    problems.append("%s: new slab %s, expected %s"
                                    % (path, got.hex()[:40], r["written"][:40]))
            if r["copied_from"] is not None and before is not None:
                src_start = list(tail_start)
                src_start[dim] = r["copied_from"]
                got = raw_read(dm, tail_start, tail_count)
                want = raw_read(dm, src_start, tail_count)
                if got != want:
                    problems.append("%s: new slab %s, expected a copy of slab %d: %s"
                                    % (path, got.hex()[:40], r["copied_from"], want.hex()[:40]))
        else:
            sl = tuple(slice(0, n) for n in old)
            if not same_objects(do[sl], dm[sl]):
                problems.append("%s: old region differs" % path)
            tail = tuple(slice(s, s + c) for s, c in zip(tail_start, tail_count))
            for v in np.asarray(dm[tail], dtype=object).ravel():
                if v is not None and len(v) != 0:
                    problems.append("%s: new slab not the (empty) fill: %r" % (path, v))
                    break


def check_file(item):
    problems = []
    notes = []
    doc = normalise(h5canon.canonicalize(item["modified"]))
    with open(item["canon"], encoding="utf-8") as fh:
        exp = json.load(fh)
    if not doc.get("ok"):
        return ["changed file not readable: %s" % doc.get("error")], notes
    root = doc["root"]
    # (a) the added dataset
    if item["dataset"]:
        with h5py.File(item["modified"], "r") as f:
            d = f[DS]
            if list(d[...]) != [1, 2, 3, 4, 5] or d.dtype != np.dtype("<i4"):
                problems.append("/%s: values %r" % (DS, d[...]))
            note = d.attrs.get("note")
            if isinstance(note, bytes):
                note = note.decode()
            if note != "added by h5oxide":
                problems.append("/%s: attribute note = %r" % (DS, note))
        if root.get("links", {}).pop(DS, None) is None:
            problems.append("/%s: not in the canonical document" % DS)
        if isinstance(root.get("link_order"), list) and DS in root["link_order"]:
            root["link_order"].remove(DS)
        # A new-style root that held its maximum of compact links (8 unless its Group Info
        # says otherwise) goes to dense storage with one more, as libhdf5 does.
        eroot = exp.get("root", {})
        if (eroot.get("storage") == "compact" and root.get("storage") == "dense"
                and len(eroot.get("links", {})) + 1 > 8):
            root["storage"] = "compact"
            notes.append("root: compact -> dense after the added link")
    # (b) the root attribute
    if item["attr"]:
        with h5py.File(item["modified"], "r") as f:
            v = f.attrs.get(ATTR)
            if isinstance(v, bytes):
                v = v.decode()
            if v != ATTR_VALUE:
                problems.append("root attribute %s = %r" % (ATTR, v))
        if root.get("attrs", {}).pop(ATTR, None) is None:
            problems.append("root attribute %s: not in the canonical document" % ATTR)
        if isinstance(root.get("attr_order"), list) and ATTR in root["attr_order"]:
            root["attr_order"].remove(ATTR)
    # (c) the resized dataset: checked with h5py, its entry compared without the data fields
    if item["resize"]:
        check_resized(item, problems)
        path = item["resize"]["path"]
        e, d = entry_at(exp, path), entry_at(doc, path)
        if e is None or d is None:
            problems.append("%s: not found in the canonical documents" % path)
        else:
            ee, dd = e[0][e[1]], d[0][d[1]]
            if ee.get("chunk_index") != dd.get("chunk_index"):
                notes.append("chunk index %s -> %s" % (ee.get("chunk_index"),
                                                       dd.get("chunk_index")))
            if dd.get("shape") != item["resize"]["new_shape"]:
                problems.append("%s: canonical shape %s" % (path, dd.get("shape")))
            for k in RESIZE_KEYS:
                ee.pop(k, None)
                dd.pop(k, None)
    diff = compare_docs(exp, doc, limit=5)
    if diff:
        # The stored document may come from another libhdf5: compare with this one's view of
        # the original, if it differs from the stored one.
        fresh = normalise(h5canon.canonicalize(item["original"]))
        if compare_docs(exp, fresh, limit=1):
            if item["resize"]:
                f = entry_at(fresh, item["resize"]["path"])
                if f is not None:
                    for k in RESIZE_KEYS:
                        f[0][f[1]].pop(k, None)
            diff2 = compare_docs(fresh, doc, limit=5)
            notes.append("oracle document differs from this libhdf5's; compared with a fresh one")
            diff = diff2
    problems.extend(diff)
    if not problems and (item["dataset"] or item["attr"] or item["resize"]):
        check_h5py_append(item, problems, notes)
    return problems, notes


def h5py_append(src, dst):
    """libhdf5 itself changes a copy of `src` (r+): a dataset and a root attribute added. Returns
    the error text, or None."""
    shutil.copyfile(src, dst)
    try:
        with h5py.File(dst, "r+") as f:
            f.create_dataset("h5py_after", data=np.arange(3, dtype="i2"))
            f.attrs["h5py_after"] = 7
        with h5py.File(dst, "r") as f:
            if list(f["h5py_after"][...]) != [0, 1, 2] or f.attrs["h5py_after"] != 7:
                return "h5py's own additions read back wrong"
    except Exception as e:
        return "%s: %s" % (type(e).__name__, e)
    return None


def check_h5py_append(item, problems, notes):
    """After libhdf5 appended to the changed file, our changes must still read back (a wrong
    end-of-file address would let libhdf5 allocate over them). Runs in a forked child: libhdf5
    crashes on some files (e.g. an unregistered user-defined link class) whatever we did."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            p, n = [], []
            try:
                _append_and_check(item, p, n)
            except Exception as e:
                p.append("h5py append check: %s: %s" % (type(e).__name__, e))
            os.write(w, json.dumps([p, n]).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as fh:
        out = fh.read()
    _, status = os.waitpid(pid, 0)
    if status != 0 or not out:
        # A crash: blame the change only if libhdf5 appends to the original fine.
        if _crashes(item["original"], item["modified"] + ".rplus-orig"):
            notes.append("libhdf5 crashes appending to the original too")
        else:
            problems.append("libhdf5 crashed appending to the changed file (status %d)" % status)
        return
    p, n = json.loads(out)
    problems.extend(p)
    notes.extend(n)


def _crashes(src, dst):
    pid = os.fork()
    if pid == 0:
        try:
            h5py_append(src, dst)
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    return status != 0


def _append_and_check(item, problems, notes):
    dst = item["modified"] + ".rplus"
    e = h5py_append(item["modified"], dst)
    if e is not None:
        if h5py_append(item["original"], item["modified"] + ".rplus-orig") is not None:
            notes.append("libhdf5 cannot append to the original either")
        else:
            problems.append("libhdf5 r+ append failed on the changed file: %s" % e)
        return
    with h5py.File(dst, "r") as f:
        if item["dataset"] and list(f[DS][...]) != [1, 2, 3, 4, 5]:
            problems.append("after libhdf5 appended: /%s reads %r" % (DS, f[DS][...]))
        if item["attr"]:
            v = f.attrs.get(ATTR)
            if isinstance(v, bytes):
                v = v.decode()
            if v != ATTR_VALUE:
                problems.append("after libhdf5 appended: root attribute reads %r" % v)
        r = item["resize"]
        if r and list(f[r["path"]].shape) != r["new_shape"]:
            problems.append("after libhdf5 appended: %s has shape %s" % (r["path"],
                                                                       f[r["path"]].shape))
    os.remove(dst)


def main():
    with open(sys.argv[2], encoding="utf-8") as fh:
        items = json.load(fh)
    bad = 0
    for item in items:
        try:
            problems, notes = check_file(item)
        except Exception:
            problems, notes = ["driver error: " + traceback.format_exc().replace("\n", " | ")], []
        changes = [k for k in ("dataset", "attr", "resize") if item[k]]
        if problems:
            bad += 1
            print("mismatch %s [%s]: %s" % (item["file"], ",".join(changes),
                                          "; ".join(problems)[:600]), flush=True)
        else:
            print("ok %s [%s]%s" % (item["file"], ",".join(changes),
                                    (" (" + "; ".join(notes) + ")") if notes else ""),
                  flush=True)
    print("summary: %d files, %d ok, %d mismatches" % (len(items), len(items) - bad, bad))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
