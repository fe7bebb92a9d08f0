"""NumPy references for the structural primitives."""

import numpy as np


def rows_of(conn, *variables):
    """{pre: [(post, *values), ...]} of the real synapses, in slot order."""
    idx, length = np.asarray(conn.indices), np.asarray(conn.row_length)
    vals = [np.asarray(v) for v in variables]
    return {
        i: [(int(idx[i, k]), *(float(v[i, k]) for v in vals)) for k in range(length[i])]
        for i in range(conn.n_pre)
    }


def pairs_of(conn, *variables):
    """{(pre, post): (*values,)} of the real synapses."""
    return {(i, s[0]): s[1:] for i, row in rows_of(conn, *variables).items() for s in row}


def add_pairs_reference(rows, n_pre, n_post, max_row, pre, post, values, asked, limit):
    """Candidates one at a time, as :func:`spars.structure.add_pairs` specifies."""
    rows = {i: list(r) for i, r in rows.items()}
    added = rejected = overflow = 0
    seen = set()
    for j in range(len(pre)):
        if not asked[j]:
            continue
        i, p = int(pre[j]), int(post[j])
        in_range = 0 <= i < n_pre and 0 <= p < n_post
        if not in_range or (i, p) in seen or any(s[0] == p for s in rows[i]):
            rejected += 1
            seen.add((i, p))
            continue
        seen.add((i, p))
        if limit is not None and added >= limit:
            continue
        if len(rows[i]) >= max_row:
            overflow += 1
            continue
        rows[i].append((p, float(values[j])))
        added += 1
    return rows, (added, rejected, overflow)
